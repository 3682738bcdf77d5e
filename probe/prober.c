/* prober.c: the target map and the loop that probes it.
 *
 * Two sides share a target:
 *   - under p->lock: the map (two hash chains: by id, by owner), each target's
 *     spec, status and generation, and the pending list through which other
 *     threads hand set and removed targets to the loop;
 *   - the loop thread alone: timers, sockets, the wait queue, in_flight.
 * A target leaves the map at once when removed but is freed only by the loop
 * (or by prober_free after the loop stopped), so the loop's callbacks never
 * meet a freed target and can read its immutable id and owner_key unlocked.
 * A probe records the generation it started with; a prober_set that changes
 * the target bumps it, so the result of a probe of the old spec is dropped.
 */
#include <inttypes.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "probe-internal.h"

enum run_phase { RUN_CONNECTING, RUN_SENDING, RUN_READING };

/* One probe in flight. */
struct run {
        uint64_t generation;
        struct probe_target spec;
        char address[PROBE_ADDRESS_MAX];
        enum run_phase phase;
        int fd;
        bool io_ready; /* io assigned */
        char request[PROBE_REQUEST_MAX];
        size_t request_len, sent;
        char response[PROBE_RESPONSE_MAX];
        size_t response_len;
        struct event *io; /* points into storage */
        _Alignas(max_align_t) unsigned char storage[];
};

struct target {
        struct prober *prober;
        char *id;        /* immutable */
        char *owner_key; /* immutable: another owner makes another target */

        /* Under p->lock. */
        struct probe_target spec;
        struct probe_status status;
        int64_t set_mono_ms; /* start of the start period */
        uint64_t generation;
        bool removed; /* out of the map; the loop frees it */
        bool pending; /* on p->pending */
        struct target *next_pending;
        struct target *next_by_id, *next_by_owner;

        /* Loop thread only. */
        bool timer_ready; /* timer assigned */
        bool waiting;     /* on the wait queue */
        struct target *wait_prev, *wait_next;
        struct run *run;     /* the probe in flight; then timer is its deadline */
        struct event *timer; /* points into storage */
        _Alignas(max_align_t) unsigned char storage[];
};

struct prober {
        pthread_mutex_t lock;
        struct target **by_id, **by_owner; /* n_buckets each, a power of two */
        size_t n_buckets, count, max_targets;
        struct target *pending; /* set or removed since the loop last looked */
        bool stopping;

        probe_change_fn fn;
        void *userdata;
        int max_in_flight;

        int wake_fd;
        struct event_base *base;
        struct event *wake;
        pthread_t thread;
        bool thread_started;

        /* Loop thread only. */
        int in_flight;
        bool draining;
        struct target *wait_head, *wait_tail;
};

static void target_timer_cb(evutil_socket_t fd, short what, void *userdata);
static void run_io_cb(evutil_socket_t fd, short what, void *userdata);

/* ---- the map (under p->lock) ------------------------------------------- */

static size_t hash(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        return (size_t)h;
}

static struct target **id_slot(struct prober *p, const char *id)
{
        struct target **at = &p->by_id[hash(id) & (p->n_buckets - 1)];

        while (*at && !streq((*at)->id, id))
                at = &(*at)->next_by_id;
        return at;
}

static void link_target(struct prober *p, struct target *t)
{
        struct target **id_head = &p->by_id[hash(t->id) & (p->n_buckets - 1)];
        struct target **owner_head = &p->by_owner[hash(t->owner_key) & (p->n_buckets - 1)];

        t->next_by_id = *id_head;
        *id_head = t;
        t->next_by_owner = *owner_head;
        *owner_head = t;
}

static void push_pending(struct prober *p, struct target *t)
{
        if (t->pending)
                return;
        t->pending = true;
        t->next_pending = p->pending;
        p->pending = t;
}

/* Takes t out of both chains and hands it to the loop to free. */
static void unlink_target(struct prober *p, struct target *t)
{
        struct target **at = id_slot(p, t->id);

        *at = t->next_by_id;
        at = &p->by_owner[hash(t->owner_key) & (p->n_buckets - 1)];
        while (*at != t)
                at = &(*at)->next_by_owner;
        *at = t->next_by_owner;
        t->removed = true;
        p->count--;
        push_pending(p, t);
}

/* Doubles the buckets once there are as many targets as buckets. */
static int grow(struct prober *p)
{
        size_t n = p->n_buckets * 2;
        struct target **by_id, **by_owner, **old = p->by_id;
        size_t old_n = p->n_buckets;

        if (p->count < p->n_buckets)
                return 0;
        by_id = calloc(n, sizeof(*by_id));
        by_owner = calloc(n, sizeof(*by_owner));
        if (!by_id || !by_owner) {
                free(by_id);
                free(by_owner);
                return -ENOMEM;
        }
        p->by_id = by_id;
        free(p->by_owner);
        p->by_owner = by_owner;
        p->n_buckets = n;
        for (size_t i = 0; i < old_n; i++)
                for (struct target *t = old[i], *next; t; t = next) {
                        next = t->next_by_id;
                        link_target(p, t);
                }
        free(old);
        return 0;
}

static void status_reset(struct target *t)
{
        t->status = (struct probe_status){.health = PROBE_STARTING};
        t->set_mono_ms = time_mono_ms();
        t->generation++;
}

static void wake_loop(struct prober *p)
{
        uint64_t one = 1;

        /* Cannot fail but for an overflowing counter, which the loop drains
         * long before: a lost write would find the counter non-zero anyway. */
        while (write(p->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
                ;
}

/* ---- the loop thread --------------------------------------------------- */

static void wait_unlink(struct prober *p, struct target *t)
{
        if (!t->waiting)
                return;
        if (t->wait_prev)
                t->wait_prev->wait_next = t->wait_next;
        else
                p->wait_head = t->wait_next;
        if (t->wait_next)
                t->wait_next->wait_prev = t->wait_prev;
        else
                p->wait_tail = t->wait_prev;
        t->wait_prev = t->wait_next = NULL;
        t->waiting = false;
}

static void wait_push(struct prober *p, struct target *t)
{
        t->waiting = true;
        t->wait_next = NULL;
        t->wait_prev = p->wait_tail;
        if (p->wait_tail)
                p->wait_tail->wait_next = t;
        else
                p->wait_head = t;
        p->wait_tail = t;
}

/* Ends the probe in flight without a result. */
static void run_close(struct prober *p, struct target *t)
{
        struct run *r = t->run;

        if (!r)
                return;
        if (r->io_ready) {
                event_del(r->io);
                event_debug_unassign(r->io);
        }
        if (r->fd >= 0)
                close(r->fd);
        free(r);
        t->run = NULL;
        p->in_flight--;
        if (t->timer_ready)
                event_del(t->timer);
}

static void target_free(struct target *t)
{
        if (!t)
                return;
        if (t->timer_ready) {
                event_del(t->timer);
                event_debug_unassign(t->timer);
        }
        free(t->id);
        free(t->owner_key);
        free(t);
}

/* Drops everything the loop holds of t and frees it. */
static void target_destroy(struct prober *p, struct target *t)
{
        run_close(p, t);
        wait_unlink(p, t);
        target_free(t);
}

static void schedule(struct target *t, int64_t delay_ms)
{
        struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};

        event_add(t->timer, &tv);
}

static void run_start(struct prober *p, struct target *t);

/* Starts waiting probes while there is room. A probe that ends at once calls
 * this again from inside: the flag keeps that from recursing once per waiting
 * target. */
static void drain(struct prober *p)
{
        if (p->draining)
                return;
        p->draining = true;
        while (p->in_flight < p->max_in_flight && p->wait_head) {
                struct target *t = p->wait_head;

                wait_unlink(p, t);
                run_start(p, t);
        }
        p->draining = false;
}

/* Applies a result to the status; whether the health changed. */
static bool status_apply(struct target *t, bool ok, const char *message)
{
        struct probe_status *s = &t->status;
        enum probe_health before = s->health;

        s->checked_ms = time_now_ms();
        if (ok) {
                s->health = PROBE_HEALTHY;
                s->consecutive_failures = 0;
                s->message[0] = '\0';
        } else {
                (void)str_copy(s->message, sizeof(s->message), message);
                /* Docker's start period: failures before the first success do
                 * not count while it lasts; once started, every one does. */
                if (s->health != PROBE_STARTING ||
                    time_mono_ms() - t->set_mono_ms >= t->spec.start_period_ms) {
                        if (s->consecutive_failures < INT32_MAX)
                                s->consecutive_failures++;
                        if (s->consecutive_failures >= t->spec.failure_threshold)
                                s->health = PROBE_UNHEALTHY;
                }
        }
        return s->health != before;
}

/* The probe in flight of t ended: record it, plan the next and let the
 * waiting ones in. */
static void run_finish(struct prober *p, struct target *t, bool ok, const char *message)
{
        uint64_t generation = t->run->generation;
        int64_t interval_ms = t->run->spec.interval_ms;
        bool changed = false;

        run_close(p, t);
        pthread_mutex_lock(&p->lock);
        if (!t->removed && generation == t->generation)
                changed = status_apply(t, ok, message);
        pthread_mutex_unlock(&p->lock);
        schedule(t, interval_ms);
        if (changed && p->fn)
                p->fn(t->owner_key, p->userdata);
        drain(p);
}

static void run_failf(struct prober *p, struct target *t, const char *fmt, ...) _printf_(3, 4);
static void run_failf(struct prober *p, struct target *t, const char *fmt, ...)
{
        char message[sizeof(((struct probe_status *)0)->message)];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        run_finish(p, t, false, message);
}

static void run_wait(struct prober *p, struct target *t, short what)
{
        struct run *r = t->run;

        if (r->io_ready)
                event_del(r->io);
        event_assign(r->io, p->base, r->fd, what, run_io_cb, t);
        r->io_ready = true;
        event_add(r->io, NULL);
}

static void run_read(struct prober *p, struct target *t)
{
        struct run *r = t->run;
        char message[sizeof(((struct probe_status *)0)->message)];
        int status = 0;

        for (;;) {
                bool eof = false;
                ssize_t n = recv(r->fd, r->response + r->response_len,
                                 sizeof(r->response) - r->response_len, 0);
                int k;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        run_wait(p, t, EV_READ);
                        return;
                }
                if (n < 0) {
                        run_failf(p, t, "read %s: %s", r->address, strerror(errno));
                        return;
                }
                if (n == 0)
                        eof = true;
                r->response_len += (size_t)n;
                k = probe_http_status_parse(r->response, r->response_len, eof, &status, message,
                                            sizeof(message));
                if (k < 0) {
                        run_finish(p, t, false, message);
                        return;
                }
                if (k > 0) {
                        if (status >= 200 && status <= 399)
                                run_finish(p, t, true, NULL);
                        else
                                run_failf(p, t, "HTTP %d", status);
                        return;
                }
        }
}

static void run_send(struct prober *p, struct target *t)
{
        struct run *r = t->run;

        while (r->sent < r->request_len) {
                ssize_t n =
                    send(r->fd, r->request + r->sent, r->request_len - r->sent, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        run_wait(p, t, EV_WRITE);
                        return;
                }
                if (n < 0) {
                        run_failf(p, t, "send %s: %s", r->address, strerror(errno));
                        return;
                }
                r->sent += (size_t)n;
        }
        r->phase = RUN_READING;
        run_read(p, t);
}

static void run_connected(struct prober *p, struct target *t)
{
        struct run *r = t->run;
        int n;

        if (r->spec.type == PROBE_TCP) {
                run_finish(p, t, true, NULL);
                return;
        }
        n = probe_http_request(&r->spec, r->request, sizeof(r->request));
        if (n < 0) {
                run_failf(p, t, "request for %s too long", r->address);
                return;
        }
        r->request_len = (size_t)n;
        r->phase = RUN_SENDING;
        run_send(p, t);
}

static void run_io_cb(evutil_socket_t fd, short what, void *userdata)
{
        struct target *t = userdata;
        struct prober *p = t->prober;
        struct run *r = t->run;
        int error = 0;
        socklen_t len = sizeof(error);

        (void)what;
        switch (r->phase) {
        case RUN_CONNECTING:
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                        error = errno;
                if (error != 0)
                        run_failf(p, t, "connect %s: %s", r->address, strerror(error));
                else
                        run_connected(p, t);
                break;
        case RUN_SENDING:
                run_send(p, t);
                break;
        case RUN_READING:
                run_read(p, t);
                break;
        }
}

static void run_start(struct prober *p, struct target *t)
{
        struct run *r = calloc(1, sizeof(*r) + event_get_struct_event_size());
        struct sockaddr_storage sa;
        socklen_t sa_len;

        if (!r) {
                /* No memory for this round: try again an interval later. */
                pthread_mutex_lock(&p->lock);
                int64_t interval_ms = t->spec.interval_ms;
                pthread_mutex_unlock(&p->lock);
                schedule(t, interval_ms);
                return;
        }
        pthread_mutex_lock(&p->lock);
        if (t->removed) {
                /* The loop frees it on the next wake-up. */
                pthread_mutex_unlock(&p->lock);
                free(r);
                return;
        }
        r->spec = t->spec;
        r->generation = t->generation;
        pthread_mutex_unlock(&p->lock);

        r->fd = -1;
        r->io = (struct event *)r->storage;
        r->phase = RUN_CONNECTING;
        probe_address_format(r->spec.host, r->spec.port, r->address, sizeof(r->address));
        t->run = r;
        p->in_flight++;
        schedule(t, r->spec.timeout_ms); /* the deadline: connect and response */

        probe_target_sockaddr(&r->spec, &sa, &sa_len);
        r->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (r->fd < 0) {
                run_failf(p, t, "socket: %s", strerror(errno));
                return;
        }
        if (connect(r->fd, (struct sockaddr *)&sa, sa_len) == 0)
                run_connected(p, t);
        else if (errno == EINPROGRESS)
                run_wait(p, t, EV_WRITE);
        else
                run_failf(p, t, "connect %s: %s", r->address, strerror(errno));
}

/* Fires when t is due (no run) or when its probe is past the deadline. */
static void target_timer_cb(evutil_socket_t fd, short what, void *userdata)
{
        struct target *t = userdata;
        struct prober *p = t->prober;

        (void)fd;
        (void)what;
        if (t->run) {
                run_failf(p, t, "timeout after %" PRId64 " ms", t->run->spec.timeout_ms);
                return;
        }
        /* The waiting ones go first. */
        if (p->in_flight < p->max_in_flight && !p->wait_head)
                run_start(p, t);
        else
                wait_push(p, t);
}

/* Takes over what other threads set or removed since the last wake-up:
 * frees removed targets and probes set ones right away. */
static void wake_cb(evutil_socket_t fd, short what, void *userdata)
{
        struct prober *p = userdata;
        uint64_t n;
        struct target *list;

        (void)what;
        while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
                ;
        pthread_mutex_lock(&p->lock);
        if (p->stopping) {
                pthread_mutex_unlock(&p->lock);
                event_base_loopbreak(p->base);
                return;
        }
        list = p->pending;
        p->pending = NULL;
        for (struct target *t = list, *next; t; t = next) {
                next = t->next_pending;
                t->next_pending = NULL;
                t->pending = false;
                if (t->removed) {
                        target_destroy(p, t);
                        continue;
                }
                run_close(p, t);
                wait_unlink(p, t);
                if (!t->timer_ready) {
                        event_assign(t->timer, p->base, -1, 0, target_timer_cb, t);
                        t->timer_ready = true;
                }
                schedule(t, 0);
        }
        pthread_mutex_unlock(&p->lock);
        drain(p);
}

static void *prober_main(void *userdata)
{
        struct prober *p = userdata;

        event_base_dispatch(p->base);
        return NULL;
}

/* ---- the API ------------------------------------------------------------ */

void prober_free(struct prober *p)
{
        if (!p)
                return;
        if (p->thread_started) {
                pthread_mutex_lock(&p->lock);
                p->stopping = true;
                pthread_mutex_unlock(&p->lock);
                wake_loop(p);
                pthread_join(p->thread, NULL);
        }
        /* Removed targets are on the pending list only; live ones in the map. */
        for (struct target *t = p->pending, *next; t; t = next) {
                next = t->next_pending;
                if (t->removed)
                        target_destroy(p, t);
        }
        for (size_t i = 0; p->by_id && i < p->n_buckets; i++)
                for (struct target *t = p->by_id[i], *next; t; t = next) {
                        next = t->next_by_id;
                        target_destroy(p, t);
                }
        if (p->wake)
                event_free(p->wake);
        if (p->base)
                event_base_free(p->base);
        if (p->wake_fd >= 0)
                close(p->wake_fd);
        pthread_mutex_destroy(&p->lock);
        free(p->by_id);
        free(p->by_owner);
        free(p);
}

int prober_new_with_max_targets(int max_in_flight, size_t max_targets, probe_change_fn fn,
                                void *userdata, struct prober **ret, struct berth_error *err)
{
        struct prober *p;
        int r;

        if (max_in_flight < 1 || max_in_flight > PROBE_IN_FLIGHT_MAX)
                return berth_error_set(err, -EINVAL, "prober: max_in_flight %d not in 1..%d",
                                       max_in_flight, PROBE_IN_FLIGHT_MAX);
        if (max_targets < 1 || max_targets > PROBE_TARGETS_MAX)
                return berth_error_set(err, -EINVAL, "prober: max_targets %zu not in 1..%d",
                                       max_targets, PROBE_TARGETS_MAX);
        p = calloc(1, sizeof(*p));
        if (!p)
                return berth_error_set(err, -ENOMEM, "prober: out of memory");
        pthread_mutex_init(&p->lock, NULL);
        p->wake_fd = -1;
        p->fn = fn;
        p->userdata = userdata;
        p->max_in_flight = max_in_flight;
        p->max_targets = max_targets;
        p->n_buckets = 64;
        p->by_id = calloc(p->n_buckets, sizeof(*p->by_id));
        p->by_owner = calloc(p->n_buckets, sizeof(*p->by_owner));
        if (!p->by_id || !p->by_owner) {
                r = berth_error_set(err, -ENOMEM, "prober: out of memory");
                goto fail;
        }
        p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->wake_fd < 0) {
                r = berth_error_set(err, -errno, "prober: eventfd: %s", strerror(errno));
                goto fail;
        }
        p->base = event_base_new();
        if (!p->base) {
                r = berth_error_set(err, -ENOMEM, "prober: cannot create event loop");
                goto fail;
        }
        p->wake = event_new(p->base, p->wake_fd, EV_READ | EV_PERSIST, wake_cb, p);
        if (!p->wake || event_add(p->wake, NULL) < 0) {
                r = berth_error_set(err, -ENOMEM, "prober: cannot watch its eventfd");
                goto fail;
        }
        r = -pthread_create(&p->thread, NULL, prober_main, p);
        if (r < 0) {
                berth_error_set(err, r, "prober: cannot start thread: %s", strerror(-r));
                goto fail;
        }
        p->thread_started = true;
        *ret = p;
        return 0;
fail:
        prober_free(p);
        return r;
}

int prober_new(int max_in_flight, probe_change_fn fn, void *userdata, struct prober **ret,
               struct berth_error *err)
{
        return prober_new_with_max_targets(max_in_flight, PROBE_TARGETS_MAX, fn, userdata, ret,
                                           err);
}

static bool key_ok(const char *s, size_t max)
{
        return s && s[0] && strnlen(s, max + 1) <= max;
}

static struct target *target_new(const char *id, const char *owner_key,
                                 const struct probe_target *spec)
{
        struct target *t = calloc(1, sizeof(*t) + event_get_struct_event_size());

        if (!t)
                return NULL;
        t->id = strdup(id);
        t->owner_key = strdup(owner_key);
        if (!t->id || !t->owner_key) {
                target_free(t);
                return NULL;
        }
        t->timer = (struct event *)t->storage;
        t->spec = *spec;
        return t;
}

int prober_set(struct prober *p, const char *id, const char *owner_key,
               const struct probe_target *t)
{
        struct probe_target spec;
        struct target *old, *fresh;

        if (!key_ok(id, PROBE_ID_MAX) || !key_ok(owner_key, PROBE_OWNER_KEY_MAX) ||
            probe_target_check(t) < 0)
                return -EINVAL;
        probe_target_copy(&spec, t);
        {
                LOCK_SCOPE(&p->lock);

                old = *id_slot(p, id);
                if (old && streq(old->owner_key, owner_key)) {
                        if (probe_target_equal(&old->spec, &spec))
                                return 0;
                        old->spec = spec;
                        status_reset(old);
                        push_pending(p, old);
                } else {
                        if (!old && p->count >= p->max_targets)
                                return -E2BIG;
                        if (grow(p) < 0)
                                return -ENOMEM;
                        fresh = target_new(id, owner_key, &spec);
                        if (!fresh)
                                return -ENOMEM;
                        fresh->prober = p;
                        if (old)
                                unlink_target(p, old);
                        status_reset(fresh);
                        link_target(p, fresh);
                        p->count++;
                        push_pending(p, fresh);
                }
        }
        wake_loop(p);
        return 0;
}

void prober_remove(struct prober *p, const char *id)
{
        struct target *t;

        if (!id)
                return;
        {
                LOCK_SCOPE(&p->lock);

                t = *id_slot(p, id);
                if (!t)
                        return;
                unlink_target(p, t);
        }
        wake_loop(p);
}

static bool kept(const char *id, const char *const *keep, size_t n_keep)
{
        for (size_t i = 0; i < n_keep; i++)
                if (streq(keep[i], id))
                        return true;
        return false;
}

void prober_retain(struct prober *p, const char *owner_key, const char *const *keep, size_t n_keep)
{
        bool dropped = false;

        if (!owner_key)
                return;
        {
                LOCK_SCOPE(&p->lock);
                struct target *t = p->by_owner[hash(owner_key) & (p->n_buckets - 1)], *next;

                for (; t; t = next) {
                        next = t->next_by_owner;
                        if (streq(t->owner_key, owner_key) && !kept(t->id, keep, n_keep)) {
                                unlink_target(p, t);
                                dropped = true;
                        }
                }
        }
        if (dropped)
                wake_loop(p);
}

int prober_status(struct prober *p, const char *id, struct probe_status *ret)
{
        LOCK_SCOPE(&p->lock);
        struct target *t;

        if (!id)
                return -ENOENT;
        t = *id_slot(p, id);
        if (!t)
                return -ENOENT;
        *ret = t->status;
        return 0;
}

size_t prober_count(struct prober *p)
{
        LOCK_SCOPE(&p->lock);

        return p->count;
}
