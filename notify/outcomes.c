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
        char key[]; /* kind, ns, name joined by KEY_SEP */
};

struct outcome_map {
        struct outcome_entry **buckets;
        size_t n_buckets; /* a power of two */
        struct outcome_entry *oldest, *youngest;
        size_t n, max;
        int64_t keep_ms;
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

int outcome_map_new(size_t max, int64_t keep_ms, struct outcome_map **ret)
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

static void link_youngest(struct outcome_map *m, struct outcome_entry *e)
{
        e->older = m->youngest;
        e->younger = NULL;
        if (m->youngest)
                m->youngest->younger = e;
        else
                m->oldest = e;
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

enum run_result outcome_map_record(struct outcome_map *m, const char *kind, const char *ns,
                                   const char *name, const char *uid, bool failed, int64_t now_ms)
{
        enum run_result result = failed ? RUN_FAILED : RUN_SUCCEEDED;
        _cleanup_free_ char *key = NULL;
        struct outcome_entry *e;
        uint64_t h;

        if (!m || !kind || !name)
                return RUN_NONE;
        key = str_printf("%s%c%s%c%s", kind, KEY_SEP, ns ? ns : "", KEY_SEP, name);
        if (!key)
                return RUN_NONE;
        /* Forget what is too old, so a stale failure never makes a recovery
         * of a run days later. */
        while (m->oldest && now_ms - m->oldest->at_ms > m->keep_ms)
                remove_entry(m, m->oldest);
        h = fnv1a(key);
        for (e = m->buckets[h & (m->n_buckets - 1)]; e; e = e->chain)
                if (e->hash == h && streq(e->key, key))
                        break;
        if (e) {
                enum run_result before = e->result;

                if (uid && *uid && streq(e->uid, uid))
                        before = e->before; /* this run again */
                e->before = before;
                e->result = result;
                e->at_ms = now_ms;
                (void)str_copy(e->uid, sizeof(e->uid), uid ? uid : "");
                unlink_age(m, e);
                link_youngest(m, e);
                return before;
        }
        if (m->n >= m->max)
                remove_entry(m, m->oldest);
        e = calloc(1, sizeof(*e) + strlen(key) + 1);
        if (!e)
                return RUN_NONE;
        memcpy(e->key, key, strlen(key) + 1);
        (void)str_copy(e->uid, sizeof(e->uid), uid ? uid : "");
        e->hash = h;
        e->at_ms = now_ms;
        e->result = result;
        e->before = RUN_NONE;
        e->chain = m->buckets[h & (m->n_buckets - 1)];
        m->buckets[h & (m->n_buckets - 1)] = e;
        link_youngest(m, e);
        m->n++;
        return RUN_NONE;
}
