/* inflight-limit: the adaptive in-flight limit (see inflight-limit.h). */
#include "inflight-limit.h"

static int clamp(int v, int lo, int hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

static void window_reset(struct inflight_limit *l)
{
        l->window_start_ns = 0;
        l->latency_sum_ns = 0;
        l->cost_sum_ns = 0;
        l->samples = 0;
        l->saturated = l->in_flight >= l->limit;
}

void inflight_limit_init(struct inflight_limit *l, int initial, int min, int max)
{
        if (min < 1)
                min = 1;
        if (max < min)
                max = min;
        *l = (struct inflight_limit){.min = min, .max = max, .dir = 1};
        l->limit = clamp(initial, min, max);
}

bool inflight_limit_try_acquire(struct inflight_limit *l)
{
        if (l->in_flight >= l->limit) {
                l->saturated = true;
                return false;
        }
        l->in_flight++;
        if (l->in_flight >= l->limit)
                l->saturated = true;
        return true;
}

void inflight_limit_set(struct inflight_limit *l, int limit)
{
        l->limit = clamp(limit, 1, l->max);
        l->have_prev = false;
        l->dir = 1;
        window_reset(l);
}

/* One counted window's verdict: the next limit. */
static int decide(struct inflight_limit *l, double throughput, double latency)
{
        bool gained = l->have_prev && throughput > l->prev_throughput * (1 + INFLIGHT_GAIN);

        if (l->floor_ns > 0 && latency > l->floor_ns * INFLIGHT_EXPLODE && !gained) {
                l->dir = -1;
                return l->limit / 2;
        }
        if (l->have_prev && l->prev_limit != l->limit) {
                bool went_up = l->limit > l->prev_limit;

                if (gained)
                        l->dir = went_up ? 1 : -1;
                else if (throughput < l->prev_throughput * (1 - INFLIGHT_GAIN))
                        l->dir = went_up ? -1 : 1;
                else if (latency > l->prev_latency_ns * (1 + INFLIGHT_GAIN))
                        l->dir = -1;
                else
                        l->dir = 1;
        }
        /* Same limit as before (first window, or pinned at a bound): keep
         * the direction; a bound turns it around below. */
        return l->limit + l->dir;
}

bool inflight_limit_release(struct inflight_limit *l, int op, int64_t latency_ns, bool answered,
                            int64_t now_ns)
{
        if (l->in_flight > 0)
                l->in_flight--;
        if (!answered)
                return false;
        if (latency_ns < 1000)
                latency_ns = 1000; /* 1 µs: no call is free */
        if (op < 0 || op >= INFLIGHT_OPS)
                op = INFLIGHT_OPS - 1;
        double *cost = &l->op_cost_ns[op];
        if (*cost <= 0 || latency_ns < *cost)
                *cost = (double)latency_ns;
        if (l->window_start_ns == 0) {
                /* The window opens with this completion; its latency counts,
                 * its time is the start of the throughput measurement. */
                l->window_start_ns = now_ns - latency_ns;
        }
        l->latency_sum_ns += (double)latency_ns;
        l->cost_sum_ns += *cost;
        l->samples++;
        int64_t span = now_ns - l->window_start_ns;
        if (l->samples < INFLIGHT_WINDOW_SAMPLES || span < INFLIGHT_WINDOW_MIN_NS)
                return false;

        /* Unloaded work done per second, and how much slower than unloaded
         * it was done. */
        double throughput = l->cost_sum_ns / (double)span;
        double latency = l->latency_sum_ns / l->cost_sum_ns;
        for (int i = 0; i < INFLIGHT_OPS; i++)
                l->op_cost_ns[i] *= INFLIGHT_OP_DRIFT;
        int old = l->limit;
        if (!l->saturated) {
                /* Demand-bound: nothing learnt about the engine's curve. */
                l->have_prev = false;
                window_reset(l);
                return false;
        }
        int next = decide(l, throughput, latency);
        if (l->floor_ns <= 0 || latency < l->floor_ns)
                l->floor_ns = latency;
        else
                l->floor_ns = l->floor_ns * INFLIGHT_FLOOR_DRIFT < latency
                                  ? l->floor_ns * INFLIGHT_FLOOR_DRIFT
                                  : latency;
        next = clamp(next, l->min, l->max);
        if (next == old && (old == l->min || old == l->max))
                l->dir = old == l->min ? 1 : -1; /* at a bound: try the other way next */
        l->have_prev = true;
        l->prev_limit = old;
        l->prev_throughput = throughput;
        l->prev_latency_ns = latency;
        l->limit = next;
        if (next != old)
                l->adjustments++;
        window_reset(l);
        /* The new window starts now: the calls still in flight began under
         * the old limit, but they are at most a window's worth. */
        l->window_start_ns = now_ns;
        return next != old;
}
