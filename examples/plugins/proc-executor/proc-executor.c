/* proc-executor: an example executor plugin for berthd (docs/plugins.md).
 *
 * A Task with spec.executor.type proc-executor runs its command (spec.command
 * + spec.args) as a process on the berthd host, as an unprivileged user
 * (PROC_EXECUTOR_UID/GID, default 65534, "nobody"; uid 0 is refused), in
 * a fresh session and process group, with its output in a file. It shows
 * the whole executor contract:
 *
 *  - start double-forks a monitor (so berthd never has children to reap),
 *    which forks the command, waits for it and writes its exit code to
 *    "<handle>.exit" before it exits. The handle, "<monitor pid>.<its start
 *    time in clock ticks>", names the attempt's files in the state directory
 *    (PROC_EXECUTOR_DIR, default /var/lib/berth/proc-executor) and survives
 *    a restart of berthd;
 *  - a watcher thread holds a pidfd of each monitor in an epoll set and
 *    calls host->executor_changed when one exits: berthd is told, nothing
 *    polls;
 *  - observe answers from the files and /proc, so after a restart of berthd
 *    an attempt that still runs, or ended meanwhile, is found again;
 *  - signal signals the command's process group, logs reads the tail of
 *    the output file, forget removes the attempt's files.
 *
 * Build: see CMakeLists.txt (the installed berth-plugin.h and libjansson-dev).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth-plugin.h"

#define ARGS_MAX 256

struct proc {
        const struct berth_host *host;
        char dir[512];
        uid_t uid;
        gid_t gid;
        int epfd;
        int wake[2]; /* fini → watcher: stop */
        pthread_t watcher;
};

static void say(struct proc *p, int level, const char *fmt, ...)
{
        char line[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        p->host->log(p->host, level, line);
}

/* "<digits>.<digits>", so that it is safe in a file name. */
static int handle_parse(const char *h, pid_t *pid, unsigned long long *ticks)
{
        char tail;

        if (strspn(h, "0123456789.") != strlen(h) ||
            sscanf(h, "%d.%llu%c", pid, ticks, &tail) != 2 || *pid <= 1)
                return -1;
        return 0;
}

static void path_of(struct proc *p, const char *handle, const char *ext, char *buf, size_t size)
{
        snprintf(buf, size, "%s/%s.%s", p->dir, handle, ext);
}

/* Field 22 of /proc/PID/stat: when the process started; 0 when it is gone. */
static unsigned long long start_ticks(pid_t pid)
{
        char path[64], buf[1024];
        unsigned long long ticks = 0;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *s = strrchr(buf, ')'); /* the name may hold spaces */
        if (!s)
                return 0;
        /* after ")": state (3), then fields 4..21, then 22 */
        if (sscanf(s + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
                   "%*d %llu",
                   &ticks) != 1)
                return 0;
        return ticks;
}

static int read_int_file(const char *path, int *ret)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        int ok = fscanf(f, "%d", ret) == 1;
        fclose(f);
        return ok ? 0 : -1;
}

/* Watches the monitor of handle: its exit is told to berthd. */
static void watch(struct proc *p, pid_t pid)
{
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return; /* gone already: observe tells */
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = (uint64_t)fd | ((uint64_t)pid << 32)};
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                close(fd);
}

/* Removes every file of the monitor pid ("<pid>.*"). */
static void forget_pid(struct proc *p, pid_t pid)
{
        char prefix[32], path[600];
        DIR *d = opendir(p->dir);
        struct dirent *de;

        if (!d)
                return;
        snprintf(prefix, sizeof(prefix), "%d.", (int)pid);
        while ((de = readdir(d)))
                if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
                        snprintf(path, sizeof(path), "%s/%s", p->dir, de->d_name);
                        unlink(path);
                }
        closedir(d);
}

static void *watcher(void *arg)
{
        struct proc *p = arg;
        struct epoll_event evs[16];

        for (;;) {
                int n = epoll_wait(p->epfd, evs, 16, -1);
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.u64 == UINT64_MAX)
                                return NULL; /* fini */
                        int fd = (int)(evs[i].data.u64 & 0xffffffffu);
                        pid_t pid = (pid_t)(evs[i].data.u64 >> 32);
                        epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
                        close(fd);
                        /* The handle: the monitor's pid and start time; it
                         * has exited, so find its files by the pid. */
                        char prefix[32], handle[BERTH_EXECUTOR_HANDLE_MAX];
                        snprintf(prefix, sizeof(prefix), "%d.", (int)pid);
                        char path[600];
                        snprintf(path, sizeof(path), "%s/%d.handle", p->dir, (int)pid);
                        FILE *f = fopen(path, "re");
                        if (!f) /* forgotten while it ran: what it wrote since goes */
                                forget_pid(p, pid);
                        if (f) {
                                if (fgets(handle, sizeof(handle), f)) {
                                        handle[strcspn(handle, "\n")] = '\0';
                                        if (strncmp(handle, prefix, strlen(prefix)) == 0)
                                                p->host->executor_changed(p->host, handle);
                                }
                                fclose(f);
                        }
                }
                if (n < 0 && errno != EINTR)
                        return NULL;
        }
}

static int proc_init(const struct berth_host *host, void **ctx)
{
        struct proc *p = calloc(1, sizeof(*p));
        const char *dir = getenv("PROC_EXECUTOR_DIR");
        const char *uid = getenv("PROC_EXECUTOR_UID");
        const char *gid = getenv("PROC_EXECUTOR_GID");

        if (!p)
                return -1;
        p->host = host;
        snprintf(p->dir, sizeof(p->dir), "%s", dir && *dir ? dir : "/var/lib/berth/proc-executor");
        p->uid = uid && *uid ? (uid_t)strtoul(uid, NULL, 10) : 65534;
        p->gid = gid && *gid ? (gid_t)strtoul(gid, NULL, 10) : 65534;
        if (p->uid == 0 || p->gid == 0) {
                say(p, BERTH_PLUGIN_LOG_ERROR, "refusing to run commands as root");
                free(p);
                return -1;
        }
        if (mkdir(p->dir, 0700) < 0 && errno != EEXIST) {
                say(p, BERTH_PLUGIN_LOG_ERROR, "mkdir %s: %s", p->dir, strerror(errno));
                free(p);
                return -1;
        }
        p->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (p->epfd < 0 || pipe2(p->wake, O_CLOEXEC) < 0) {
                free(p);
                return -1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
        epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wake[0], &ev);
        if (pthread_create(&p->watcher, NULL, watcher, p) != 0) {
                free(p);
                return -1;
        }
        *ctx = p;
        return 0;
}

static void proc_fini(void *ctx)
{
        struct proc *p = ctx;

        (void)!write(p->wake[1], "x", 1);
        pthread_join(p->watcher, NULL);
        close(p->wake[0]);
        close(p->wake[1]);
        close(p->epfd);
        free(p);
}

/* The monitor (a grandchild of berthd, in a session of its own): runs the
 * command in its own process group, waits, writes the exit code. Only
 * async-signal-safe calls: berthd is multi-threaded. */
static void monitor(struct proc *p, char *const argv[], const char *log_path, const char *exit_path,
                    const char *exit_tmp, const char *pgid_path, int ready)
{
        int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (out < 0 || fchown(out, p->uid, p->gid) < 0)
                _exit(127);
        pid_t cmd = fork();
        if (cmd == 0) {
                /* berthd's threads block or ignore some signals: the
                 * command starts with none blocked and all defaulted. */
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                for (int sig = 1; sig < NSIG; sig++)
                        signal(sig, SIG_DFL);
                int null = open("/dev/null", O_RDONLY);
                if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
                    setpgid(0, 0) < 0 || setgroups(0, NULL) < 0 || setgid(p->gid) < 0 ||
                    setuid(p->uid) < 0 || chdir("/") < 0)
                        _exit(126);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (cmd < 0)
                _exit(127);
        setpgid(cmd, cmd); /* as the child does: whichever runs first */
        char num[32];
        int fd = open(pgid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int len = snprintf(num, sizeof(num), "%d\n", (int)cmd);
        if (fd >= 0) {
                (void)!write(fd, num, (size_t)len);
                close(fd);
        }
        (void)!write(ready, "1", 1); /* the pgid file is there: start may return */
        close(ready);
        int status = 0;
        while (waitpid(cmd, &status, 0) < 0 && errno == EINTR)
                ;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        fd = open(exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        len = snprintf(num, sizeof(num), "%d\n", code);
        if (fd >= 0) {
                (void)!write(fd, num, (size_t)len);
                fsync(fd);
                close(fd);
                rename(exit_tmp, exit_path);
        }
        _exit(0);
}

static int proc_start(void *ctx, const char *task_json, int attempt, char *handle,
                      size_t handle_size, char *error, size_t error_size)
{
        struct proc *p = ctx;
        json_error_t jerr;
        json_t *task = json_loads(task_json, 0, &jerr);
        char *argv[ARGS_MAX + 1];
        size_t argc = 0;
        int rc = -1;
        (void)attempt;

        if (!task) {
                snprintf(error, error_size, "the task does not parse: %s", jerr.text);
                return -1;
        }
        json_t *spec = json_object_get(task, "spec");
        const char *parts[] = {"command", "args"};
        for (size_t k = 0; k < 2; k++) {
                size_t i;
                json_t *v;
                json_array_foreach(json_object_get(spec, parts[k]), i, v)
                {
                        if (json_is_string(v) && argc < ARGS_MAX)
                                argv[argc++] = strdup(json_string_value(v));
                }
        }
        argv[argc] = NULL;
        json_decref(task);
        if (argc == 0) {
                snprintf(error, error_size, "proc-executor needs spec.command");
                return -1;
        }

        /* The files are named by the handle, which holds the monitor's pid:
         * the monitor sends its pid up one pipe, reads its paths from
         * another and says on a third when the command runs. */
        char stem[64], log_path[600], exit_path[600], exit_tmp[600], pgid_path[600];
        int up[2] = {-1, -1}, down[2] = {-1, -1}, ready[2] = {-1, -1};
        if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
                snprintf(error, error_size, "pipe: %s", strerror(errno));
                goto fail;
        }
        pid_t first = fork();
        if (first == 0) {
                close(up[0]);
                close(down[1]);
                close(ready[0]);
                /* the intermediate child: a session of its own, then the
                 * monitor, then gone (berthd reaps it at once) */
                setsid();
                pid_t mon = fork();
                if (mon != 0)
                        _exit(mon < 0 ? 1 : 0);
                /* the monitor: wait for its names (our pid decides them):
                 * four NUL-terminated paths */
                pid_t self = getpid();
                (void)!write(up[1], &self, sizeof(self));
                close(up[1]);
                char buf[600 * 4];
                size_t n = 0, nuls = 0;
                while (nuls < 4 && n < sizeof(buf)) {
                        ssize_t got = read(down[0], buf + n, sizeof(buf) - n);
                        if (got <= 0)
                                _exit(127);
                        for (ssize_t i = 0; i < got; i++)
                                nuls += buf[n + (size_t)i] == '\0';
                        n += (size_t)got;
                }
                if (nuls < 4)
                        _exit(127);
                const char *paths[4];
                for (size_t i = 0, off = 0; i < 4; i++) {
                        paths[i] = buf + off;
                        off += strlen(buf + off) + 1;
                }
                /* berthd's descriptors (its listening socket, its database)
                 * must not live on in the monitor: all go but "ready". */
                if (ready[1] > 3)
                        close_range(3, (unsigned)ready[1] - 1, 0);
                close_range((unsigned)ready[1] + 1, ~0U, 0);
                monitor(p, argv, paths[0], paths[1], paths[2], paths[3], ready[1]);
        }
        int status;
        pid_t mon = -1;
        close(up[1]);
        up[1] = -1;
        close(down[0]);
        down[0] = -1;
        close(ready[1]);
        ready[1] = -1;
        if (first > 0)
                waitpid(first, &status, 0);
        if (first < 0 || read(up[0], &mon, sizeof(mon)) != sizeof(mon)) {
                snprintf(error, error_size, "cannot start the monitor");
                goto fail;
        }
        unsigned long long ticks = start_ticks(mon);
        snprintf(stem, sizeof(stem), "%d.%llu", (int)mon, ticks);
        path_of(p, stem, "log", log_path, sizeof(log_path));
        path_of(p, stem, "exit", exit_path, sizeof(exit_path));
        path_of(p, stem, "exit.tmp", exit_tmp, sizeof(exit_tmp));
        path_of(p, stem, "pgid", pgid_path, sizeof(pgid_path));
        /* the pid → handle index the watcher uses once the monitor exits */
        char index[600];
        snprintf(index, sizeof(index), "%s/%d.handle", p->dir, (int)mon);
        FILE *f = fopen(index, "we");
        if (f) {
                fprintf(f, "%s\n", stem);
                fclose(f);
        }
        watch(p, mon);
        const char *paths[] = {log_path, exit_path, exit_tmp, pgid_path};
        for (int i = 0; i < 4; i++)
                (void)!write(down[1], paths[i], strlen(paths[i]) + 1);
        char one;
        if (read(ready[0], &one, 1) != 1) {
                snprintf(error, error_size, "the command did not start");
                goto fail;
        }
        snprintf(handle, handle_size, "%s", stem);
        rc = 0;
fail:
        for (int i = 0; i < 2; i++) {
                if (up[i] >= 0)
                        close(up[i]);
                if (down[i] >= 0)
                        close(down[i]);
                if (ready[i] >= 0)
                        close(ready[i]);
        }
        for (size_t i = 0; i < argc; i++)
                free(argv[i]);
        return rc;
}

static int proc_observe(void *ctx, const char *handle, int *state, int *exit_code)
{
        struct proc *p = ctx;
        char path[600];
        pid_t pid;
        unsigned long long ticks;

        if (handle_parse(handle, &pid, &ticks) < 0) {
                *state = BERTH_EXECUTOR_UNKNOWN;
                return 0;
        }
        path_of(p, handle, "exit", path, sizeof(path));
        if (read_int_file(path, exit_code) == 0) {
                *state = BERTH_EXECUTOR_ENDED;
                return 0;
        }
        if (start_ticks(pid) == ticks) {
                *state = BERTH_EXECUTOR_RUNNING;
                /* after a restart of berthd: watch it again (a second watch
                 * of the same monitor is harmless) */
                watch(p, pid);
                return 0;
        }
        *state = BERTH_EXECUTOR_UNKNOWN;
        return 0;
}

static int proc_signal(void *ctx, const char *handle, int signo)
{
        struct proc *p = ctx;
        char path[600];
        pid_t pid;
        unsigned long long ticks;
        int pgid;

        if (handle_parse(handle, &pid, &ticks) < 0)
                return -1;
        /* Ended: its process group id may belong to another process now. */
        path_of(p, handle, "exit", path, sizeof(path));
        if (access(path, F_OK) == 0)
                return 0;
        path_of(p, handle, "pgid", path, sizeof(path));
        if (read_int_file(path, &pgid) < 0 || pgid <= 1)
                return -1;
        return kill(-pgid, signo) < 0 && errno != ESRCH ? -1 : 0;
}

static int proc_logs(void *ctx, const char *handle, char *buf, size_t size, size_t *len)
{
        struct proc *p = ctx;
        char path[600];
        pid_t pid;
        unsigned long long ticks;

        if (handle_parse(handle, &pid, &ticks) < 0)
                return -1;
        path_of(p, handle, "log", path, sizeof(path));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        struct stat st;
        off_t from =
            fstat(fd, &st) == 0 && (size_t)st.st_size > size ? st.st_size - (off_t)size : 0;
        ssize_t n = pread(fd, buf, size, from);
        close(fd);
        if (n < 0)
                return -1;
        *len = (size_t)n;
        return 0;
}

static void proc_forget(void *ctx, const char *handle)
{
        struct proc *p = ctx;
        const char *exts[] = {"log", "exit", "exit.tmp", "pgid"};
        char path[600];
        pid_t pid;
        unsigned long long ticks;

        if (handle_parse(handle, &pid, &ticks) < 0)
                return;
        for (size_t i = 0; i < sizeof(exts) / sizeof(*exts); i++) {
                path_of(p, handle, exts[i], path, sizeof(path));
                unlink(path);
        }
        snprintf(path, sizeof(path), "%s/%d.handle", p->dir, (int)pid);
        unlink(path);
}

static const struct berth_executor_ops ops = {
    .start = proc_start,
    .observe = proc_observe,
    .signal = proc_signal,
    .logs = proc_logs,
    .forget = proc_forget,
};

static const struct berth_plugin descriptor = {
    .abi_major = BERTH_PLUGIN_ABI_MAJOR,
    .abi_minor = BERTH_PLUGIN_ABI_MINOR,
    .name = "proc-executor",
    .type = BERTH_PLUGIN_EXECUTOR,
    .init = proc_init,
    .fini = proc_fini,
    .executor = &ops,
};

const struct berth_plugin *berth_plugin_descriptor(void)
{
        return &descriptor;
}
