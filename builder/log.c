/* log.c: the tail of a build's output (struct build_log). */
#include "builder-internal.h"

void build_log_init(struct build_log *l)
{
        *l = (struct build_log){0};
}

void build_log_release(struct build_log *l)
{
        free(l->data);
        build_log_init(l);
}

/* Where the tail starts: BUILDER_LOG_MAX bytes before the end, moved on to the
 * start of the next line. A line is at most BUILDER_LINE_MAX + 1 bytes, less
 * than BUILDER_LOG_MAX, and the last byte is a '\n', so the tail always holds
 * the last line whole. */
static size_t tail_start(const struct build_log *l)
{
        size_t start;
        const char *nl;

        if (l->len <= BUILDER_LOG_MAX)
                return 0;
        start = l->len - BUILDER_LOG_MAX;
        if (l->data[start - 1] == '\n')
                return start;
        nl = memchr(l->data + start, '\n', l->len - start);
        return (size_t)(nl - l->data) + 1;
}

static void drop_front(struct build_log *l, size_t n)
{
        if (n == 0)
                return;
        memmove(l->data, l->data + n, l->len - n);
        l->len -= n;
        l->dropped = true;
}

int build_log_append(struct build_log *l, const char *line)
{
        size_t n = strnlen(line, BUILDER_LINE_MAX), need = n + 1;

        if (l->len + need > 2 * (size_t)BUILDER_LOG_MAX)
                /* Leaves at most BUILDER_LOG_MAX: room enough without growing. */
                drop_front(l, tail_start(l));
        if (l->len + need > l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 4096;
                char *data;

                if (cap < l->len + need)
                        cap = l->len + need;
                if (cap > 2 * (size_t)BUILDER_LOG_MAX)
                        cap = 2 * (size_t)BUILDER_LOG_MAX;
                data = realloc(l->data, cap);
                if (!data)
                        return -ENOMEM;
                l->data = data;
                l->cap = cap;
        }
        memcpy(l->data + l->len, line, n);
        utf8_scrub(l->data + l->len, n);
        l->data[l->len + n] = '\n';
        l->len += need;
        l->total += need;
        return 0;
}

const char *build_log_tail(const struct build_log *l, size_t *ret_len, bool *ret_truncated)
{
        size_t start = tail_start(l);

        *ret_len = l->len - start;
        *ret_truncated = l->dropped || start > 0;
        return l->data ? l->data + start : "";
}

void build_log_shrink(struct build_log *l)
{
        char *data;

        drop_front(l, tail_start(l));
        if (l->len == 0) {
                free(l->data);
                l->data = NULL;
                l->cap = 0;
                return;
        }
        data = realloc(l->data, l->len);
        if (data) {
                l->data = data;
                l->cap = l->len;
        }
}
