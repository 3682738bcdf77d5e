/* clockwatch.c: noticing that the wall clock was set (a jump, not the
 * steady tick): a timerfd armed on CLOCK_REALTIME with
 * TFD_TIMER_CANCEL_ON_SET fails its read with ECANCELED whenever the clock is
 * set, which is how schedules in wall-clock time learn that every delay they
 * computed is wrong. One thread blocks in poll() on that timerfd and on an
 * eventfd that ends it. */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include "common.h"

struct clock_watch {
        int timer_fd;
        int stop_fd;
        pthread_t thread;
        clock_watch_fn fn;
        void *userdata;
};

/* Far in the future, so it never expires: only a clock set wakes it. */
static int arm(int fd)
{
        struct itimerspec its = {.it_value = {.tv_sec = INT32_MAX}};

        return timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0
                   ? -errno
                   : 0;
}

static void *watch_main(void *userdata)
{
        struct clock_watch *w = userdata;
        struct pollfd fds[2] = {{.fd = w->timer_fd, .events = POLLIN},
                                {.fd = w->stop_fd, .events = POLLIN}};

        for (;;) {
                uint64_t ticks;

                if (poll(fds, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return NULL;
                }
                if (fds[1].revents)
                        return NULL;
                if (read(w->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == ECANCELED) {
                        /* Re-armed before the call back, so a set during it is seen too. */
                        if (arm(w->timer_fd) < 0)
                                return NULL;
                        w->fn(w->userdata);
                }
        }
}

int clock_watch_start(clock_watch_fn fn, void *userdata, struct clock_watch **ret)
{
        struct clock_watch *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        *w = (struct clock_watch){.timer_fd = -1, .stop_fd = -1, .fn = fn, .userdata = userdata};
        w->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
        w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->timer_fd < 0 || w->stop_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = arm(w->timer_fd);
        if (r < 0)
                goto fail;
        r = -pthread_create(&w->thread, NULL, watch_main, w);
        if (r < 0)
                goto fail;
        *ret = w;
        return 0;
fail:
        if (w->timer_fd >= 0)
                close(w->timer_fd);
        if (w->stop_fd >= 0)
                close(w->stop_fd);
        free(w);
        return r;
}

void clock_watch_stop(struct clock_watch *w)
{
        uint64_t one = 1;

        if (!w)
                return;
        /* One write to a fresh eventfd cannot overflow its counter. */
        while (write(w->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
                ;
        pthread_join(w->thread, NULL);
        close(w->timer_fd);
        close(w->stop_fd);
        free(w);
}
