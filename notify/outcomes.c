/* outcomes.c: the last outcome of each (kind, namespace, name), so that a
 * success can be told from a recovery. Bounded in entries and in age: a
 * record moves its entry to the young end of a list, so the oldest entry
 * is at the other end when one must go. */
#include "notify-internal.h"

#define KEY_SEP '\x1f' /* in no kind, namespace or name */

struct outcome_entry {
        struct outcome_entry *chain; /* in its bucket */
        struct outcome_entry *older, *younger;
        uint64_t hash;
        int64_t at_ms;
        enum run_result result; /* of run uid */
        enum run_result before; /* of the run before it */
        char uid[64];
        /* What the store holds of it (outcome_map_take_write). */
        bool stored;
        enum run_result stored_result;
        int64_t stored_at_ms;
        size_t ns_off, name_off; /* where ns and name start in key */
        char key[];              /* kind, ns, name joined by KEY_SEP */
};

struct outcome_map {
        struct outcome_entry **buckets;
        size_t n_buckets; /* a power of two */
        struct outcome_entry *oldest, *youngest;
        size_t n, max;
        int64_t keep_ms;
        outcome_evict_fn evict;
        void *userdata;
};

static uint64_t fnv1a(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

int outcome_map_new(size_t max, int64_t keep_ms, outcome_evict_fn evict, void *userdata,
                    struct outcome_map **ret)
{
        struct outcome_map *m;
        size_t nb = 16;

        if (max == 0 || keep_ms <= 0)
                return -EINVAL;
        while (nb < max && nb < ((size_t)1 << 20))
                nb <<= 1;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->buckets = calloc(nb, sizeof(*m->buckets));
        if (!m->buckets) {
                free(m);
                return -ENOMEM;
        }
        m->n_buckets = nb;
        m->max = max;
        m->keep_ms = keep_ms;
        m->evict = evict;
        m->userdata = userdata;
        *ret = m;
        return 0;
}

void outcome_map_free(struct outcome_map *m)
{
        if (!m)
                return;
        for (struct outcome_entry *e = m->oldest, *next; e; e = next) {
                next = e->younger;
                free(e);
        }
        free(m->buckets);
        free(m);
}

size_t outcome_map_size(const struct outcome_map *m)
{
        return m ? m->n : 0;
}

static void unlink_age(struct outcome_map *m, struct outcome_entry *e)
{
        if (e->older)
                e->older->younger = e->younger;
        else
                m->oldest = e->younger;
        if (e->younger)
                e->younger->older = e->older;
        else
                m->youngest = e->older;
        e->older = e->younger = NULL;
}

/* Links e by its at_ms: after the youngest entry not younger than it. Records
 * come in time order, so this is the young end but for a wall clock stepped
 * back, or a load of an old value. */
static void link_by_age(struct outcome_map *m, struct outcome_entry *e)
{
        struct outcome_entry *after = m->youngest;

        while (after && after->at_ms > e->at_ms)
                after = after->older;
        e->older = after;
        e->younger = after ? after->younger : m->oldest;
        if (e->older)
                e->older->younger = e;
        else
                m->oldest = e;
        if (e->younger)
                e->younger->older = e;
        else
                m->youngest = e;
}

static void remove_entry(struct outcome_map *m, struct outcome_entry *e)
{
        struct outcome_entry **p = &m->buckets[e->hash & (m->n_buckets - 1)];

        while (*p && *p != e)
                p = &(*p)->chain;
        if (*p)
                *p = e->chain;
        unlink_age(m, e);
        m->n--;
        free(e);
}

/* Forgets e (too old, or the bound reached): the store forgets it too. */
static void evict_entry(struct outcome_map *m, struct outcome_entry *e)
{
        if (e->stored && m->evict) {
                char *k = e->key;

                k[e->ns_off - 1] = k[e->name_off - 1] = '\0';
                m->evict(k, k + e->ns_off, k + e->name_off, m->userdata);
        }
        remove_entry(m, e);
}

static void expire(struct outcome_map *m, int64_t now_ms)
{
        while (m->oldest && now_ms - m->oldest->at_ms > m->keep_ms)
                evict_entry(m, m->oldest);
}

static char *map_key(const char *kind, const char *ns, const char *name)
{
        return str_printf("%s%c%s%c%s", kind, KEY_SEP, ns ? ns : "", KEY_SEP, name);
}

static struct outcome_entry *find(const struct outcome_map *m, const char *key, uint64_t h)
{
        struct outcome_entry *e;

        for (e = m->buckets[h & (m->n_buckets - 1)]; e; e = e->chain)
                if (e->hash == h && streq(e->key, key))
                        return e;
        return NULL;
}

static struct outcome_entry *lookup(const struct outcome_map *m, const char *kind, const char *ns,
                                    const char *name)
{
        _cleanup_free_ char *key = NULL;

        if (!m || !kind || !name)
                return NULL;
        key = map_key(kind, ns, name);
        return key ? find(m, key, fnv1a(key)) : NULL;
}

/* A new entry for key, linked by age (at_ms set by the caller first),
 * making room first. NULL on OOM. */
static struct outcome_entry *insert(struct outcome_map *m, const char *key, uint64_t h,
                                    const char *kind, const char *ns, int64_t at_ms)
{
        size_t len = strlen(key);
        struct outcome_entry *e;

        if (m->n >= m->max)
                evict_entry(m, m->oldest);
        e = calloc(1, sizeof(*e) + len + 1);
        if (!e)
                return NULL;
        memcpy(e->key, key, len + 1);
        e->ns_off = strlen(kind) + 1;
        e->name_off = e->ns_off + strlen(ns ? ns : "") + 1;
        e->hash = h;
        e->at_ms = at_ms;
        e->chain = m->buckets[h & (m->n_buckets - 1)];
        m->buckets[h & (m->n_buckets - 1)] = e;
        link_by_age(m, e);
        m->n++;
        return e;
}

enum run_result outcome_map_record(struct outcome_map *m, const char *kind, const char *ns,
                                   const char *name, const char *uid, bool failed, int64_t now_ms)
{
        enum run_result result = failed ? RUN_FAILED : RUN_SUCCEEDED;
        _cleanup_free_ char *key = NULL;
        struct outcome_entry *e;
        uint64_t h;

        if (!m || !kind || !name)
                return RUN_NONE;
        key = map_key(kind, ns, name);
        if (!key)
                return RUN_NONE;
        /* Forget what is too old, so a stale failure never makes a recovery
         * of a run days later. */
        expire(m, now_ms);
        h = fnv1a(key);
        e = find(m, key, h);
        if (e) {
                enum run_result before = e->result;

                if (uid && *uid && streq(e->uid, uid))
                        before = e->before; /* this run again */
                e->before = before;
                e->result = result;
                e->at_ms = now_ms;
                (void)str_copy(e->uid, sizeof(e->uid), uid ? uid : "");
                unlink_age(m, e);
                link_by_age(m, e);
                return before;
        }
        e = insert(m, key, h, kind, ns, now_ms);
        if (!e)
                return RUN_NONE;
        (void)str_copy(e->uid, sizeof(e->uid), uid ? uid : "");
        e->result = result;
        e->before = RUN_NONE;
        return RUN_NONE;
}

bool outcome_map_take_write(struct outcome_map *m, const char *kind, const char *ns,
                            const char *name, int64_t refresh_ms, struct outcome_value *ret)
{
        struct outcome_entry *e = lookup(m, kind, ns, name);

        if (!e ||
            (e->stored && e->stored_result == e->result && e->at_ms - e->stored_at_ms < refresh_ms))
                return false;
        e->stored = true;
        e->stored_result = e->result;
        e->stored_at_ms = e->at_ms;
        *ret = (struct outcome_value){.result = e->result, .before = e->before, .at_ms = e->at_ms};
        (void)str_copy(ret->uid, sizeof(ret->uid), e->uid);
        return true;
}

void outcome_map_write_lost(struct outcome_map *m, const char *kind, const char *ns,
                            const char *name, int64_t at_ms)
{
        struct outcome_entry *e = lookup(m, kind, ns, name);

        if (e && e->stored && e->stored_at_ms == at_ms)
                e->stored = false;
}

static bool result_valid(enum run_result r)
{
        return r == RUN_SUCCEEDED || r == RUN_FAILED;
}

int outcome_map_load(struct outcome_map *m, const char *kind, const char *ns, const char *name,
                     const struct outcome_value *v)
{
        _cleanup_free_ char *key = NULL;
        struct outcome_entry *e;
        uint64_t h;

        if (!m || !kind || !name || !v || !result_valid(v->result) ||
            !(v->before == RUN_NONE || result_valid(v->before)))
                return -EINVAL;
        key = map_key(kind, ns, name);
        if (!key)
                return -ENOMEM;
        h = fnv1a(key);
        e = find(m, key, h);
        if (e) {
                if (e->at_ms >= v->at_ms)
                        return 1;
                unlink_age(m, e);
                e->at_ms = v->at_ms;
                link_by_age(m, e);
        } else {
                if (m->n >= m->max && m->oldest->at_ms >= v->at_ms)
                        return 1;
                e = insert(m, key, h, kind, ns, v->at_ms);
                if (!e)
                        return -ENOMEM;
        }
        e->result = v->result;
        e->before = v->before;
        (void)str_copy(e->uid, sizeof(e->uid), v->uid);
        e->stored = true;
        e->stored_result = v->result;
        e->stored_at_ms = v->at_ms;
        return 0;
}
