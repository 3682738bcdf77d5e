/* metrics: families, their series, the registry and the text format.
 *
 * Threading: a family's table is written only by compare-and-swap of an
 * empty slot (a slot never changes once set, a series is never freed), so
 * lookups and updates need no lock. The registry's lock guards its list of
 * families and is taken only when a family joins it (once per family) and
 * by a render to copy the list. The render lock serialises renders and
 * guards the collectors; no collector runs under the registry's lock, so a
 * collector may take locks of its own (the object cache's) even though a
 * thread holding those may register a family on its first update.
 */
#include <inttypes.h>
#include <math.h>
#include <time.h>

#include "metrics.h"

enum {
        FAMILY_NEW = 0,
        FAMILY_READY,
        FAMILY_INVALID,
};

struct metrics_series {
        struct metrics_family *family;
        uint64_t hash;
        const char *values[METRICS_LABELS_MAX]; /* into the allocation, after counts */
        _Atomic int64_t value;                  /* counter, gauge */
        _Atomic uint64_t sum_bits;              /* histogram: the sum, a double's bits */
        /* Histogram: observations per bucket, not cumulative; the last is
         * +Inf's. Then the label values' bytes. */
        _Atomic uint64_t counts[];
};

struct collector {
        metrics_collect_fn fn;
        void *userdata;
};

static struct {
        pthread_mutex_t lock; /* families */
        struct metrics_family *families;
        size_t n_families;

        pthread_mutex_t render_lock; /* renders, collectors */
        struct collector collectors[METRICS_COLLECTORS_MAX];
        size_t n_collectors;
} registry = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .render_lock = PTHREAD_MUTEX_INITIALIZER,
};

struct metrics_writer {
        struct buf *out;
        int error; /* the first failure */
};

static struct metrics_family notifications = METRICS_COUNTER_INIT(
    "berth_notifications_total", "Notifications by notifier and result (sent, failed).", "notifier",
    "result");

const char *metrics_type_to_string(enum metrics_type t)
{
        switch (t) {
        case METRICS_COUNTER:
                return "counter";
        case METRICS_GAUGE:
                return "gauge";
        case METRICS_HISTOGRAM:
                return "histogram";
        }
        return "untyped";
}

int64_t metrics_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- validation ------------------------------------------------------------ */

static bool name_is_valid(const char *s, bool colon)
{
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                          (colon && c == ':') || (p > s && c >= '0' && c <= '9');
                if (!ok)
                        return false;
        }
        return true;
}

static bool family_is_valid(const struct metrics_family *f, size_t *ret_n_labels)
{
        size_t n = 0;

        if (!name_is_valid(f->name, true) || !f->help)
                return false;
        if (f->type != METRICS_COUNTER && f->type != METRICS_GAUGE && f->type != METRICS_HISTOGRAM)
                return false;
        while (n < METRICS_LABELS_MAX && f->labels[n])
                n++;
        for (size_t i = 0; i < n; i++) {
                if (!name_is_valid(f->labels[i], false) || str_has_prefix(f->labels[i], "__"))
                        return false;
                if (f->type == METRICS_HISTOGRAM && streq(f->labels[i], "le"))
                        return false;
                for (size_t j = 0; j < i; j++)
                        if (streq(f->labels[i], f->labels[j]))
                                return false;
        }
        if (f->type == METRICS_HISTOGRAM) {
                if (f->n_buckets > 0 && !f->buckets)
                        return false;
                for (size_t i = 0; i < f->n_buckets; i++)
                        if (!isfinite(f->buckets[i]) ||
                            (i > 0 && f->buckets[i] <= f->buckets[i - 1]))
                                return false;
        }
        *ret_n_labels = n;
        return true;
}

int metrics_family_register(struct metrics_family *f)
{
        int state = atomic_load_explicit(&f->state_, memory_order_acquire);
        if (state != FAMILY_NEW)
                return state == FAMILY_READY ? 0 : -EINVAL;

        LOCK_SCOPE(&registry.lock);
        state = atomic_load_explicit(&f->state_, memory_order_relaxed);
        if (state != FAMILY_NEW)
                return state == FAMILY_READY ? 0 : -EINVAL;
        size_t n_labels;
        if (!family_is_valid(f, &n_labels)) {
                atomic_store_explicit(&f->state_, FAMILY_INVALID, memory_order_release);
                return -EINVAL;
        }
        f->n_labels_ = n_labels;
        f->next_ = registry.families;
        registry.families = f;
        registry.n_families++;
        /* Publishes n_labels_ to the lock-free readers. */
        atomic_store_explicit(&f->state_, FAMILY_READY, memory_order_release);
        return 0;
}

/* The hot path's check: one acquire load once the family is in. */
static bool family_ready(struct metrics_family *f)
{
        if (!f)
                return false;
        int state = atomic_load_explicit(&f->state_, memory_order_acquire);
        if (state == FAMILY_READY)
                return true;
        return state == FAMILY_NEW && metrics_family_register(f) == 0;
}

/* ---- label values --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0];
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* past U+10FFFF */
        } else {
                return 0;
        }
        if (len > n || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

/* A label value as it is kept: v itself when it is valid UTF-8 of at most
 * METRICS_LABEL_VALUE_MAX bytes, else a cut and repaired copy in tmp. */
static const char *value_clean(const char *v, char tmp[METRICS_LABEL_VALUE_MAX + 1])
{
        const unsigned char *s = (const unsigned char *)(v ? v : "");
        size_t i = 0;

        while (s[i] && i <= METRICS_LABEL_VALUE_MAX) {
                size_t n = utf8_seq_len(s + i, strnlen((const char *)s + i, 4));
                if (n == 0 || i + n > METRICS_LABEL_VALUE_MAX)
                        break;
                i += n;
        }
        if (!s[i])
                return (const char *)s;

        size_t o = 0;
        i = 0;
        while (s[i]) {
                size_t n = utf8_seq_len(s + i, strnlen((const char *)s + i, 4));
                size_t take = n ? n : 1;
                if (o + take > METRICS_LABEL_VALUE_MAX)
                        break;
                if (n)
                        memcpy(tmp + o, s + i, n);
                else
                        tmp[o] = '?';
                o += take;
                i += take;
        }
        tmp[o] = '\0';
        return tmp;
}

static uint64_t values_hash(const char *const *values, size_t n)
{
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a, 0xff between values */
        for (size_t i = 0; i < n; i++) {
                for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++) {
                        h ^= *p;
                        h *= UINT64_C(1099511628211);
                }
                h ^= 0xff;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

/* ---- series ---------------------------------------------------------------- */

static size_t counts_len(const struct metrics_family *f)
{
        return f->type == METRICS_HISTOGRAM ? f->n_buckets + 1 : 0;
}

static struct metrics_series *series_new(struct metrics_family *f, uint64_t hash,
                                         const char *const *values)
{
        size_t n = f->n_labels_, bytes = 0;
        size_t lens[METRICS_LABELS_MAX];

        for (size_t i = 0; i < n; i++) {
                lens[i] = strlen(values[i]);
                bytes += lens[i] + 1;
        }
        size_t head = sizeof(struct metrics_series) + counts_len(f) * sizeof(_Atomic uint64_t);
        struct metrics_series *s = calloc(1, head + bytes);
        if (!s)
                return NULL;
        s->family = f;
        s->hash = hash;
        char *p = (char *)s + head;
        for (size_t i = 0; i < n; i++) {
                memcpy(p, values[i], lens[i] + 1);
                s->values[i] = p;
                p += lens[i] + 1;
        }
        atomic_init(&s->value, 0);
        atomic_init(&s->sum_bits, 0); /* +0.0 */
        for (size_t i = 0; i < counts_len(f); i++)
                atomic_init(&s->counts[i], 0);
        return s;
}

static bool series_matches(const struct metrics_series *s, uint64_t hash, const char *const *values,
                           size_t n)
{
        if (s->hash != hash)
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(s->values[i], values[i]) != 0)
                        return false;
        return true;
}

static struct metrics_series *overflow_series(struct metrics_family *f)
{
        struct metrics_series *s = atomic_load_explicit(&f->overflow_, memory_order_acquire);
        if (s)
                return s;
        const char *values[METRICS_LABELS_MAX];
        for (size_t i = 0; i < f->n_labels_; i++)
                values[i] = METRICS_OVERFLOW_VALUE;
        struct metrics_series *mine = series_new(f, 0, values);
        if (!mine)
                return NULL;
        struct metrics_series *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(&f->overflow_, &expected, mine,
                                                    memory_order_acq_rel, memory_order_acquire))
                return mine;
        free(mine);
        return expected;
}

struct metrics_series *metrics_series(struct metrics_family *f, const char *const *values)
{
        if (!family_ready(f))
                return NULL;

        size_t n = f->n_labels_;
        char tmp[METRICS_LABELS_MAX][METRICS_LABEL_VALUE_MAX + 1];
        const char *clean[METRICS_LABELS_MAX];
        for (size_t i = 0; i < n; i++)
                clean[i] = value_clean(values ? values[i] : NULL, tmp[i]);

        uint64_t hash = values_hash(clean, n);
        size_t idx = hash & (METRICS_SLOTS - 1);
        struct metrics_series *mine = NULL;
        for (size_t probe = 0; probe < METRICS_SLOTS;
             probe++, idx = (idx + 1) & (METRICS_SLOTS - 1)) {
                struct metrics_series *s =
                    atomic_load_explicit(&f->slots_[idx], memory_order_acquire);
                if (!s) {
                        /* A new label set: claim room for it, then the slot. */
                        if (!mine) {
                                if (atomic_fetch_add_explicit(&f->n_series_, 1,
                                                              memory_order_relaxed) >=
                                    METRICS_SERIES_MAX) {
                                        atomic_fetch_sub_explicit(&f->n_series_, 1,
                                                                  memory_order_relaxed);
                                        return overflow_series(f);
                                }
                                mine = series_new(f, hash, clean);
                                if (!mine) {
                                        atomic_fetch_sub_explicit(&f->n_series_, 1,
                                                                  memory_order_relaxed);
                                        return NULL;
                                }
                        }
                        struct metrics_series *expected = NULL;
                        if (atomic_compare_exchange_strong_explicit(&f->slots_[idx], &expected,
                                                                    mine, memory_order_acq_rel,
                                                                    memory_order_acquire))
                                return mine;
                        s = expected; /* another thread filled it first */
                }
                if (series_matches(s, hash, clean, n)) {
                        if (mine) {
                                atomic_fetch_sub_explicit(&f->n_series_, 1, memory_order_relaxed);
                                free(mine);
                        }
                        return s;
                }
        }
        /* Unreachable while the table is at most half full. */
        if (mine) {
                atomic_fetch_sub_explicit(&f->n_series_, 1, memory_order_relaxed);
                free(mine);
        }
        return overflow_series(f);
}

void metrics_series_add(struct metrics_series *s, int64_t n)
{
        if (!s || s->family->type == METRICS_HISTOGRAM)
                return;
        if (s->family->type == METRICS_COUNTER && n < 0)
                return;
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void metrics_series_set(struct metrics_series *s, int64_t v)
{
        if (s && s->family->type == METRICS_GAUGE)
                atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

void metrics_series_observe(struct metrics_series *s, double v)
{
        if (!s || s->family->type != METRICS_HISTOGRAM || isnan(v))
                return;
        const struct metrics_family *f = s->family;
        size_t i = 0;
        while (i < f->n_buckets && v > f->buckets[i])
                i++;
        atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);

        uint64_t old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed), next;
        do {
                double sum;
                memcpy(&sum, &old, sizeof(sum));
                sum += v;
                memcpy(&next, &sum, sizeof(next));
        } while (!atomic_compare_exchange_weak_explicit(
            &s->sum_bits, &old, next, memory_order_relaxed, memory_order_relaxed));
}

void metrics_series_observe_since(struct metrics_series *s, int64_t start_ns)
{
        if (s)
                metrics_series_observe(s, (double)(metrics_now_ns() - start_ns) / 1e9);
}

void metrics_counter_add(struct metrics_family *f, const char *const *values, int64_t n)
{
        metrics_series_add(metrics_series(f, values), n);
}

void metrics_gauge_add(struct metrics_family *f, const char *const *values, int64_t n)
{
        metrics_series_add(metrics_series(f, values), n);
}

void metrics_gauge_set(struct metrics_family *f, const char *const *values, int64_t v)
{
        metrics_series_set(metrics_series(f, values), v);
}

void metrics_histogram_observe(struct metrics_family *f, const char *const *values, double v)
{
        metrics_series_observe(metrics_series(f, values), v);
}

void metrics_notification_count(const char *notifier, bool sent)
{
        metrics_counter_add(&notifications,
                            (const char *const[]){notifier, sent ? "sent" : "failed"}, 1);
}

/* ---- text format ----------------------------------------------------------- */

static void w_append(struct metrics_writer *w, const char *s, size_t n)
{
        if (!w->error && n > 0)
                w->error = buf_append(w->out, s, n);
}

static void w_str(struct metrics_writer *w, const char *s)
{
        w_append(w, s, strlen(s));
}

/* Escapes backslash and newline, and with quote also '"'. */
static void w_escaped(struct metrics_writer *w, const char *s, bool quote)
{
        const char *run = s;
        for (; *s; s++) {
                const char *esc = *s == '\\'           ? "\\\\"
                                  : *s == '\n'         ? "\\n"
                                  : quote && *s == '"' ? "\\\""
                                                       : NULL;
                if (!esc)
                        continue;
                w_append(w, run, (size_t)(s - run));
                w_str(w, esc);
                run = s + 1;
        }
        w_append(w, run, (size_t)(s - run));
}

/* The shortest text that reads back as v; +Inf, -Inf, NaN as Prometheus
 * spells them. */
static void format_double(double v, char out[32])
{
        if (isnan(v)) {
                snprintf(out, 32, "NaN");
                return;
        }
        if (isinf(v)) {
                snprintf(out, 32, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* 2^53 */
                snprintf(out, 32, "%" PRId64, (int64_t)v);
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(out, 32, "%.*g", prec, v);
                if (strtod(out, NULL) == v)
                        return;
        }
}

static void w_double(struct metrics_writer *w, double v)
{
        char text[32];
        format_double(v, text);
        w_str(w, text);
}

void metrics_write_family(struct metrics_writer *w, const char *name, const char *help,
                          enum metrics_type type)
{
        w_str(w, "# HELP ");
        w_str(w, name);
        w_str(w, " ");
        w_escaped(w, help ? help : "", false);
        w_str(w, "\n# TYPE ");
        w_str(w, name);
        w_str(w, " ");
        w_str(w, metrics_type_to_string(type));
        w_str(w, "\n");
}

/* name{a="x",b="y"[,le="bound"]} with names from names, values from values
 * (n of each). */
static void w_series_name(struct metrics_writer *w, const char *name, const char *suffix,
                          const char *const *names, const char *const *values, size_t n,
                          const char *le)
{
        w_str(w, name);
        w_str(w, suffix);
        if (n == 0 && !le)
                return;
        w_str(w, "{");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        w_str(w, ",");
                w_str(w, names[i]);
                w_str(w, "=\"");
                w_escaped(w, values[i], true);
                w_str(w, "\"");
        }
        if (le) {
                w_str(w, n > 0 ? ",le=\"" : "le=\"");
                w_str(w, le);
                w_str(w, "\"");
        }
        w_str(w, "}");
}

void metrics_write_sample(struct metrics_writer *w, const char *name, const char *const *labels,
                          double value)
{
        const char *names[METRICS_LABELS_MAX * 2], *values[METRICS_LABELS_MAX * 2];
        size_t n = 0;

        for (; n < ARRAY_SIZE(names) && labels && labels[2 * n]; n++) {
                names[n] = labels[2 * n];
                values[n] = labels[2 * n + 1] ? labels[2 * n + 1] : "";
        }
        w_series_name(w, name, "", names, values, n, NULL);
        w_str(w, " ");
        w_double(w, value);
        w_str(w, "\n");
}

static void render_series(struct metrics_writer *w, const struct metrics_family *f,
                          struct metrics_series *s)
{
        const char *const *names = f->labels;
        size_t n = f->n_labels_;
        char num[32];

        if (f->type != METRICS_HISTOGRAM) {
                w_series_name(w, f->name, "", names, s->values, n, NULL);
                snprintf(num, sizeof(num), " %" PRId64 "\n",
                         atomic_load_explicit(&s->value, memory_order_relaxed));
                w_str(w, num);
                return;
        }
        /* Cumulative from per-bucket counts read once each: the +Inf bucket
         * and _count are the same number even while observations land. */
        uint64_t total = 0;
        for (size_t i = 0; i <= f->n_buckets; i++) {
                char le[32];
                total += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
                if (i < f->n_buckets)
                        format_double(f->buckets[i], le);
                else
                        snprintf(le, sizeof(le), "+Inf");
                w_series_name(w, f->name, "_bucket", names, s->values, n, le);
                snprintf(num, sizeof(num), " %" PRIu64 "\n", total);
                w_str(w, num);
        }
        uint64_t bits = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
        double sum;
        memcpy(&sum, &bits, sizeof(sum));
        w_series_name(w, f->name, "_sum", names, s->values, n, NULL);
        w_str(w, " ");
        w_double(w, sum);
        w_str(w, "\n");
        w_series_name(w, f->name, "_count", names, s->values, n, NULL);
        snprintf(num, sizeof(num), " %" PRIu64 "\n", total);
        w_str(w, num);
}

static int series_cmp(const void *a, const void *b)
{
        const struct metrics_series *x = *(struct metrics_series *const *)a;
        const struct metrics_series *y = *(struct metrics_series *const *)b;
        for (size_t i = 0; i < x->family->n_labels_; i++) {
                int c = strcmp(x->values[i], y->values[i]);
                if (c)
                        return c;
        }
        return 0;
}

static void render_family(struct metrics_writer *w, struct metrics_family *f)
{
        struct metrics_series *list[METRICS_SLOTS];
        size_t n = 0;

        for (size_t i = 0; i < METRICS_SLOTS; i++) {
                struct metrics_series *s =
                    atomic_load_explicit(&f->slots_[i], memory_order_acquire);
                if (s)
                        list[n++] = s;
        }
        qsort(list, n, sizeof(list[0]), series_cmp);
        metrics_write_family(w, f->name, f->help, f->type);
        for (size_t i = 0; i < n; i++)
                render_series(w, f, list[i]);
        struct metrics_series *over = atomic_load_explicit(&f->overflow_, memory_order_acquire);
        if (over)
                render_series(w, f, over);
}

int metrics_family_render(struct metrics_family *f, struct buf *out)
{
        if (!family_ready(f))
                return -EINVAL;
        struct metrics_writer w = {.out = out};
        render_family(&w, f);
        return w.error;
}

static int family_cmp(const void *a, const void *b)
{
        const struct metrics_family *x = *(struct metrics_family *const *)a;
        const struct metrics_family *y = *(struct metrics_family *const *)b;
        return strcmp(x->name, y->name);
}

/* Writes every registered family, sorted by name. */
static void render_families(struct metrics_writer *w)
{
        (void)metrics_family_register(&notifications);
        pthread_mutex_lock(&registry.lock);
        size_t n = registry.n_families;
        _cleanup_free_ struct metrics_family **families = calloc(n ? n : 1, sizeof(*families));
        if (families) {
                size_t i = 0;
                for (struct metrics_family *f = registry.families; f && i < n; f = f->next_)
                        families[i++] = f;
        }
        pthread_mutex_unlock(&registry.lock);
        if (!families) {
                w->error = w->error ? w->error : -ENOMEM;
                return;
        }
        qsort(families, n, sizeof(families[0]), family_cmp);
        for (size_t i = 0; i < n; i++)
                render_family(w, families[i]);
}

int metrics_render(struct buf *out, metrics_collect_fn extra, void *extra_userdata)
{
        struct metrics_writer w = {.out = out};

        LOCK_SCOPE(&registry.render_lock);
        render_families(&w);
        for (size_t i = 0; i < registry.n_collectors; i++)
                registry.collectors[i].fn(&w, registry.collectors[i].userdata);
        if (extra)
                extra(&w, extra_userdata);
        return w.error;
}

int metrics_find(const char *sample, double *ret)
{
        _cleanup_buf_ struct buf b;
        buf_init(&b, SIZE_MAX / 2);
        struct metrics_writer w = {.out = &b};
        render_families(&w);
        if (w.error)
                return w.error;
        _cleanup_free_ char *needle = str_printf("\n%s ", sample);
        if (!needle)
                return -ENOMEM;
        /* The page starts with a # HELP line: every sample follows a newline. */
        const char *p = b.data ? strstr(b.data, needle) : NULL;
        if (!p)
                return -ENOENT;
        *ret = strtod(p + strlen(needle), NULL);
        return 0;
}

/* ---- collectors ------------------------------------------------------------ */

int metrics_register_collector(metrics_collect_fn fn, void *userdata)
{
        if (!fn)
                return -EINVAL;
        LOCK_SCOPE(&registry.render_lock);
        for (size_t i = 0; i < registry.n_collectors; i++)
                if (registry.collectors[i].fn == fn && registry.collectors[i].userdata == userdata)
                        return -EEXIST;
        if (registry.n_collectors == METRICS_COLLECTORS_MAX)
                return -ENOSPC;
        registry.collectors[registry.n_collectors++] = (struct collector){fn, userdata};
        return 0;
}

void metrics_unregister_collector(metrics_collect_fn fn, void *userdata)
{
        LOCK_SCOPE(&registry.render_lock);
        for (size_t i = 0; i < registry.n_collectors; i++) {
                if (registry.collectors[i].fn != fn || registry.collectors[i].userdata != userdata)
                        continue;
                memmove(&registry.collectors[i], &registry.collectors[i + 1],
                        (registry.n_collectors - i - 1) * sizeof(registry.collectors[0]));
                registry.n_collectors--;
                return;
        }
}
