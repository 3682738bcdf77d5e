/* debounce.c: when a directory watch calls back, as a pure state machine
 * over an injected clock (the contract is in watchers-internal.h). */
#include "watchers-internal.h"

const char *dir_watch_reason_to_string(enum dir_watch_reason r)
{
        switch (r) {
        case DIR_WATCH_CHANGED:
                return "Changed";
        case DIR_WATCH_RESCAN:
                return "Rescan";
        case DIR_WATCH_ROOT_GONE:
                return "RootGone";
        case DIR_WATCH_ROOT_BACK:
                return "RootBack";
        }
        return "Unknown";
}

static bool is_root_reason(enum dir_watch_reason r)
{
        return r == DIR_WATCH_ROOT_GONE || r == DIR_WATCH_ROOT_BACK;
}

enum dir_watch_reason dir_watch_reason_merge(enum dir_watch_reason old, enum dir_watch_reason new)
{
        /* What the consumer must know is the root's last state; a whole-tree
         * sync follows either way, so it covers any change or rescan. */
        if (is_root_reason(new))
                return new;
        if (is_root_reason(old))
                return old;
        return new == DIR_WATCH_RESCAN ? new : old;
}

static void arm_rescan(struct debounce *d, int64_t now_ms)
{
        d->rescan_at_ms = d->rescan_ms > 0 ? now_ms + d->rescan_ms : -1;
}

void debounce_init(struct debounce *d, int64_t quiet_ms, int64_t max_delay_ms, int64_t rescan_ms,
                   int64_t now_ms)
{
        if (quiet_ms < 0)
                quiet_ms = 0;
        if (max_delay_ms <= 0) {
                max_delay_ms = quiet_ms * 10;
                if (max_delay_ms < DIR_WATCH_MAX_DELAY_MIN_MS)
                        max_delay_ms = DIR_WATCH_MAX_DELAY_MIN_MS;
        }
        if (max_delay_ms < quiet_ms)
                max_delay_ms = quiet_ms;
        *d = (struct debounce){
            .quiet_ms = quiet_ms,
            .max_delay_ms = max_delay_ms,
            .rescan_ms = rescan_ms,
            .reason = DIR_WATCH_CHANGED,
        };
        arm_rescan(d, now_ms);
}

void debounce_event(struct debounce *d, int64_t now_ms, enum dir_watch_reason reason)
{
        if (!d->pending) {
                d->pending = true;
                d->reason = reason;
                d->first_ms = now_ms;
        } else {
                d->reason = dir_watch_reason_merge(d->reason, reason);
        }
        d->last_ms = now_ms;
}

static int64_t burst_deadline(const struct debounce *d)
{
        int64_t quiet = d->last_ms + d->quiet_ms;
        int64_t latest = d->first_ms + d->max_delay_ms;

        return quiet < latest ? quiet : latest;
}

int64_t debounce_deadline(const struct debounce *d)
{
        int64_t t = d->pending ? burst_deadline(d) : -1;

        if (d->rescan_at_ms >= 0 && (t < 0 || d->rescan_at_ms < t))
                t = d->rescan_at_ms;
        return t;
}

bool debounce_rescan_due(const struct debounce *d, int64_t now_ms)
{
        return d->rescan_at_ms >= 0 && now_ms >= d->rescan_at_ms;
}

bool debounce_fire(struct debounce *d, int64_t now_ms, enum dir_watch_reason *ret_reason)
{
        if (debounce_rescan_due(d, now_ms)) {
                d->rescan_at_ms = -1;
                if (!d->pending) {
                        arm_rescan(d, now_ms);
                        *ret_reason = DIR_WATCH_RESCAN;
                        return true;
                }
                /* Joins the burst: one call when it ends, not one in its middle. */
                d->reason = dir_watch_reason_merge(d->reason, DIR_WATCH_RESCAN);
        }
        if (!d->pending || now_ms < burst_deadline(d))
                return false;
        d->pending = false;
        /* A RESCAN or a root event came with a fresh walk (or with no tree
         * to walk): the safety net can wait a whole period again. A timer
         * that joined the burst re-arms here too. */
        if (d->reason != DIR_WATCH_CHANGED || d->rescan_at_ms < 0)
                arm_rescan(d, now_ms);
        *ret_reason = d->reason;
        return true;
}
