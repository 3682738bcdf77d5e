/* exec.c: the exec type — runs a program inside a --notifier-exec-dir with
 * the delivery's JSON on its standard input.
 *
 * No shell: the program and its args as written. It runs as berthd's user
 * in a process group of its own, in "/", with default signal dispositions
 * (berthd ignores SIGPIPE; a script must not inherit that), an empty signal
 * mask and a small environment: PATH, BERTH_NOTIFIER, BERTH_DELIVERY,
 * BERTH_EVENT, BERTH_ATTEMPT. Past timeoutSeconds the whole group gets
 * SIGKILL. Exit status 0 is a delivery; anything else a failure. Standard
 * output and error (one pipe) are logged, cut to NOTIFY_OUTPUT_MAX bytes;
 * the rest is read and dropped so that the program never blocks on it. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "notify-internal.h"

#define EXEC_PATH  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define POLL_SLICE 200 /* ms between looks at the stopping flag */

extern char **environ;

struct child_io {
        int in, out, pidfd; /* -1 once closed */
        size_t written;
        char output[NOTIFY_OUTPUT_MAX + 1];
        size_t output_len;
        bool exited;
};

static void spawn_file_actionsp(posix_spawn_file_actions_t **fa)
{
        if (*fa)
                posix_spawn_file_actions_destroy(*fa);
}

static void spawnattrp(posix_spawnattr_t **a)
{
        if (*a)
                posix_spawnattr_destroy(*a);
}

static void close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

/* The child's descriptors, process group and signals. A positive errno
 * (posix_spawn's convention) or 0. */
static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *attr, int in, int out)
{
        sigset_t all, none;
        int r;

        sigfillset(&all);
        sigemptyset(&none);
        /* dup2 clears close-on-exec on the copies only: every other
         * descriptor of berthd stays closed in the child. */
        if ((r = posix_spawn_file_actions_adddup2(fa, in, STDIN_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(fa, out, STDOUT_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(fa, out, STDERR_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_addchdir_np(fa, "/")) != 0)
                return r;
        if ((r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                                    POSIX_SPAWN_SETSIGMASK)) != 0 ||
            (r = posix_spawnattr_setpgroup(attr, 0)) != 0 ||
            (r = posix_spawnattr_setsigdefault(attr, &all)) != 0 ||
            (r = posix_spawnattr_setsigmask(attr, &none)) != 0)
                return r;
        return 0;
}

/* Starts the program: *ret_pid, with io's pipe ends. */
static int spawn(const struct notify_delivery *d, struct child_io *io, pid_t *ret_pid,
                 struct notify_result *ret)
{
        int in[2], out[2];
        posix_spawn_file_actions_t fa_store, *fa = NULL;
        posix_spawnattr_t attr_store, *attr = NULL;
        _cleanup_(spawn_file_actionsp) posix_spawn_file_actions_t *fa_clean = NULL;
        _cleanup_(spawnattrp) posix_spawnattr_t *attr_clean = NULL;
        _cleanup_free_ char *notifier =
            str_printf("BERTH_NOTIFIER=%s/%s", d->notifier_ns, d->notifier_name);
        _cleanup_free_ char *delivery = str_printf("BERTH_DELIVERY=%s", d->id);
        _cleanup_free_ char *event = str_printf("BERTH_EVENT=%s", d->outcome);
        _cleanup_free_ char *attempt = str_printf("BERTH_ATTEMPT=%d", d->attempt);
        char *envp[] = {(char *)EXEC_PATH, notifier, delivery, event, attempt, NULL};
        char *argv[NOTIFIER_ARGS_MAX + 2];
        size_t n = 0;
        int r;

        if (!notifier || !delivery || !event || !attempt)
                return -ENOMEM;
        argv[n++] = (char *)d->program;
        for (size_t i = 0; i < d->spec->n_args; i++)
                argv[n++] = (char *)d->spec->args[i];
        argv[n] = NULL;
        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                close(in[0]);
                close(in[1]);
                return r;
        }
        io->in = in[1];
        io->out = out[0];
        if (posix_spawn_file_actions_init(&fa_store) == 0)
                fa = fa_clean = &fa_store;
        if (posix_spawnattr_init(&attr_store) == 0)
                attr = attr_clean = &attr_store;
        r = fa && attr ? spawn_setup(fa, attr, in[0], out[1]) : ENOMEM;
        if (r == 0)
                r = posix_spawn(ret_pid, d->program, fa, attr, argv, envp);
        close(in[0]);
        close(out[1]);
        if (r != 0) {
                snprintf(ret->error, sizeof(ret->error), "run %s: %s", d->program, strerror(r));
                return -r;
        }
        /* The stdin pipe must not block us when the program reads slowly
         * or not at all. */
        (void)fcntl(io->in, F_SETFL, fcntl(io->in, F_GETFL) | O_NONBLOCK);
        io->pidfd = (int)syscall(SYS_pidfd_open, *ret_pid, 0);
        return 0;
}

/* write(2) to a pipe whose reader may be gone, without SIGPIPE: blocked
 * for the call, and the one it raised taken back (unless one was pending
 * before). berthd ignores SIGPIPE; a library cannot assume it. */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n)
{
        const struct timespec zero = {0};
        sigset_t pipe_set, old, pending;
        bool was_pending;
        ssize_t w;
        int saved;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        w = write(fd, p, n);
        saved = errno;
        if (w < 0 && saved == EPIPE && !was_pending)
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                        ;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = saved;
        return w;
}

/* Feeds stdin, reads the output and waits for the exit, until the
 * deadline (monotonic ms) or *stopping. 0 when it exited, -ETIMEDOUT,
 * -ECANCELED. */
static int supervise(const struct notify_delivery *d, struct child_io *io, int64_t deadline)
{
        for (;;) {
                struct pollfd fds[3];
                nfds_t n = 0;
                int in_i = -1, out_i = -1, pid_i = -1;
                int64_t left = deadline - time_mono_ms();

                if (io->exited && io->out < 0)
                        return 0;
                if (left <= 0)
                        return -ETIMEDOUT;
                if (d->stopping && atomic_load(d->stopping))
                        return -ECANCELED;
                if (io->in >= 0) {
                        in_i = (int)n;
                        fds[n++] = (struct pollfd){.fd = io->in, .events = POLLOUT};
                }
                if (io->out >= 0) {
                        out_i = (int)n;
                        fds[n++] = (struct pollfd){.fd = io->out, .events = POLLIN};
                }
                if (!io->exited && io->pidfd >= 0) {
                        pid_i = (int)n;
                        fds[n++] = (struct pollfd){.fd = io->pidfd, .events = POLLIN};
                }
                if (n == 0 || (n == 1 && in_i == 0 && io->exited))
                        return 0;
                int r = poll(fds, n, (int)(left < POLL_SLICE ? left : POLL_SLICE));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                if (in_i >= 0 && fds[in_i].revents) {
                        ssize_t w = write_nosigpipe(io->in, d->body + io->written,
                                                    d->body_len - io->written);
                        if (w > 0)
                                io->written += (size_t)w;
                        if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
                            io->written >= d->body_len)
                                close_fd(&io->in); /* EOF for the program; EPIPE: it did not read */
                }
                if (out_i >= 0 && fds[out_i].revents) {
                        char chunk[4096];
                        ssize_t got = read(io->out, chunk, sizeof(chunk));
                        if (got > 0) {
                                size_t room = NOTIFY_OUTPUT_MAX - io->output_len;
                                size_t take = (size_t)got < room ? (size_t)got : room;
                                memcpy(io->output + io->output_len, chunk, take);
                                io->output_len += take;
                                io->output[io->output_len] = '\0';
                        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                                close_fd(&io->out);
                        }
                }
                if (pid_i >= 0 && fds[pid_i].revents) {
                        io->exited = true;
                        /* What it wrote is in the pipe already; a child it
                         * left behind may hold the pipe open: stop reading
                         * once nothing more is there. */
                        (void)fcntl(io->out, F_SETFL, fcntl(io->out, F_GETFL) | O_NONBLOCK);
                }
                if (io->exited && io->out >= 0) {
                        char chunk[4096];
                        ssize_t got;
                        while ((got = read(io->out, chunk, sizeof(chunk))) > 0) {
                                size_t room = NOTIFY_OUTPUT_MAX - io->output_len;
                                size_t take = (size_t)got < room ? (size_t)got : room;
                                memcpy(io->output + io->output_len, chunk, take);
                                io->output_len += take;
                                io->output[io->output_len] = '\0';
                        }
                        close_fd(&io->out);
                }
        }
}

int notify_exec_deliver(const struct notify_delivery *d, struct notify_result *ret,
                        void *userdata _unused_)
{
        struct child_io io = {.in = -1, .out = -1, .pidfd = -1};
        pid_t pid = -1;
        int status = 0;

        if (!d->program) {
                snprintf(ret->error, sizeof(ret->error), "no program to run");
                return -EINVAL;
        }
        int r = spawn(d, &io, &pid, ret);
        if (r < 0) {
                if (!ret->error[0])
                        snprintf(ret->error, sizeof(ret->error), "run %s: %s", d->program,
                                 strerror(-r));
                return r;
        }
        r = supervise(d, &io, time_mono_ms() + d->spec->timeout_ms);
        if (r < 0)
                (void)kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        close_fd(&io.in);
        close_fd(&io.out);
        close_fd(&io.pidfd);
        for (size_t i = 0; i < io.output_len; i++)
                if ((unsigned char)io.output[i] < ' ' || io.output[i] == 0x7f)
                        io.output[i] = ' ';
        while (io.output_len > 0 && io.output[io.output_len - 1] == ' ')
                io.output[--io.output_len] = '\0';
        if (io.output_len)
                log_info("notifier program output: %s notifier=%s/%s program=%s delivery=%s",
                         io.output, d->notifier_ns, d->notifier_name, d->program, d->id);
        if (r == -ETIMEDOUT) {
                snprintf(ret->error, sizeof(ret->error), "%s: killed after %llds", d->program,
                         (long long)(d->spec->timeout_ms / 1000));
                ret->retry = true;
                return r;
        }
        if (r < 0) {
                snprintf(ret->error, sizeof(ret->error), "%s: %s", d->program, strerror(-r));
                return r;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        ret->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->retry = true;
        snprintf(ret->error, sizeof(ret->error), "%s exited with %s %d%s%.200s", d->program,
                 WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                 io.output_len ? ": " : "", io.output);
        return -EPROTO;
}
