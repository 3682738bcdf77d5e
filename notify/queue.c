/* queue.c: a Notifier's deliveries, oldest first, in a ring of fixed size:
 * memory stays bounded however many Events come while an endpoint is down. */
#include "notify-internal.h"

void delivery_free(struct delivery *d)
{
        if (!d)
                return;
        free(d->body);
        free(d);
}

int delivery_queue_init(struct delivery_queue *q, size_t max)
{
        if (max == 0)
                return -EINVAL;
        *q = (struct delivery_queue){.max = max};
        q->items = calloc(max, sizeof(*q->items));
        return q->items ? 0 : -ENOMEM;
}

void delivery_queue_release(struct delivery_queue *q)
{
        if (!q->items)
                return;
        (void)delivery_queue_drop(q, false);
        free(q->items);
        *q = (struct delivery_queue){0};
}

int delivery_queue_push(struct delivery_queue *q, struct delivery *d)
{
        if (q->n >= q->max)
                return -ENOBUFS;
        q->items[(q->head + q->n) % q->max] = d;
        q->n++;
        return 0;
}

struct delivery *delivery_queue_head(const struct delivery_queue *q)
{
        return q->n ? q->items[q->head] : NULL;
}

struct delivery *delivery_queue_pop(struct delivery_queue *q)
{
        struct delivery *d;

        if (q->n == 0)
                return NULL;
        d = q->items[q->head];
        q->items[q->head] = NULL;
        q->head = (q->head + 1) % q->max;
        q->n--;
        return d;
}

size_t delivery_queue_drop(struct delivery_queue *q, bool keep_head)
{
        struct delivery *head = keep_head ? delivery_queue_pop(q) : NULL;
        size_t dropped = 0;

        while (q->n > 0) {
                delivery_free(delivery_queue_pop(q));
                dropped++;
        }
        q->head = 0;
        if (head)
                (void)delivery_queue_push(q, head);
        return dropped;
}
