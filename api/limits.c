/* api: the per-identity request rate limit, a token bucket. Pure: the clock
 * is the caller's. */
#include "api-internal.h"

int64_t api_bucket_take(struct api_bucket *b, double rate, double burst, int64_t now_ms)
{
        if (!b->started) {
                b->tokens = burst;
                b->last_ms = now_ms;
                b->started = true;
        }
        if (now_ms > b->last_ms) {
                b->tokens += rate * (double)(now_ms - b->last_ms) / 1000.0;
                if (b->tokens > burst)
                        b->tokens = burst;
                b->last_ms = now_ms;
        }
        if (b->tokens >= 1.0) {
                b->tokens -= 1.0;
                return 0;
        }
        int64_t wait = (int64_t)((1.0 - b->tokens) * 1000.0 / rate + 0.999);
        return wait > 0 ? wait : 1;
}

int64_t api_rate_limit_take(struct api_rate_limiter *l, const char *user, int64_t now_ms)
{
        if (l->rate <= 0)
                return 0;
        size_t i;
        for (i = 0; i < l->n; i++)
                if (streq(l->users[i], user))
                        break;
        if (i == l->n) {
                /* Users are a handful of fixed names today; a full table
                 * shares its last bucket rather than grow. */
                if (l->n < API_RATE_USERS_MAX) {
                        (void)str_copy(l->users[l->n], sizeof(l->users[l->n]), user);
                        l->buckets[l->n] = (struct api_bucket){0};
                        l->n++;
                } else {
                        i = API_RATE_USERS_MAX - 1;
                }
        }
        return api_bucket_take(&l->buckets[i], l->rate, 2.0 * l->rate, now_ms);
}
