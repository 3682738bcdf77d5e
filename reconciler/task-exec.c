/* task-exec.c: the docker-exec executor's runner — a Task's command run
 * inside an existing container through the Engine API's exec endpoints.
 *
 * Each attempt's exec is started attached on a thread of its own (with its
 * own Docker client): the thread appends the output to the attempt's file
 * until the command ends, inspects the exec for its exit code, then calls
 * back with the Task's key. The reconciler only starts, observes, signals
 * and forgets; no call here waits for the command.
 *
 * Output files: "<log_dir>/<uid>/<attempt>.log", written only by the exec's
 * thread, capped at EXEC_LOG_FILE_MAX (a note line then says the rest was
 * dropped, so a chatty command cannot fill the disk). Readers
 * (exec_runner_stream) register as followers: every append and every end
 * bumps the eventfd of the followers of that attempt, which they poll
 * along with their cancel fd. A follower reads the file to its end, then
 * checks under the lock whether the exec still runs: the writer appends
 * before it marks the end, and a follower registers before its first read,
 * so no output and no end is missed.
 *
 * Restart adoption: the status names the exec of the running attempt;
 * exec_runner_adopt inspects it (404: lost) and hands it to a thread of its
 * own. Whether it still runs is its process's word, not Docker's: Docker
 * 20.10 marks an attached exec ended with exit code 126 as soon as it writes
 * after its client went away, while the command runs on. So: when Docker's
 * Pid is the exec's process in our pid namespace (pidfd_open succeeds and
 * its environment holds the token), the thread polls that pidfd; then, and
 * in every other case, the exit code comes from Docker's exec_die event
 * (docker_exec_wait_die: live, or replayed from Docker's recent events for
 * an exec that ended while berthd was down), the inspect's being the last
 * resort. Its output from the restart on is lost: the attached stream went
 * with the former berthd, and Docker cannot attach to an exec again; a
 * note line in the file says so.
 *
 * Signals reach the whole process tree: every exec runs with the environment
 * variable EXEC_TOKEN_VAR=<uid>.<attempt>, inherited by whatever it starts,
 * and a signal is a second, short exec (as root) that signals every process
 * of the container whose environment holds that token. Needs sh, tr and grep
 * in the container (busybox has them). A process that clears its
 * environment escapes it. The token is computed from uid and attempt, so an
 * adopted exec is signalled alike.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "reconciler-internal.h"

#define EXEC_TOKEN_VAR "BERTH_EXEC"
#define ENVIRON_MAX    (256 * 1024) /* bytes of /proc/PID/environ read */

static const char truncated_note[] =
    "\n[berth: output truncated: an attempt keeps at most 8 MiB of output]\n";
static const char adopted_note[] =
    "\n[berth: berthd restarted while this exec ran; its output from then on is not "
    "recorded]\n";

/* Signals every process carrying the token ($2) with signal $1 ("TERM"). */
static const char kill_script[] =
    "tok=\"" EXEC_TOKEN_VAR "=$2\"; for d in /proc/[0-9]*; do p=${d#/proc/}; "
    "[ \"$p\" = \"$$\" ] && continue; "
    "if tr '\\0' '\\n' < \"$d/environ\" 2>/dev/null | grep -qxF \"$tok\"; then "
    "kill -s \"$1\" \"$p\" 2>/dev/null; fi; done; exit 0";

struct exec_entry {
        struct exec_entry *next;
        struct exec_runner *runner;
        char uid[EXEC_UID_MAX];
        char key[EXEC_KEY_MAX];
        int attempt;
        char container_id[80];
        char exec_id[80];
        char token[96];
        struct docker *docker; /* the thread's */
        pthread_t thread;
        bool thread_started;
        bool adopted;
        int pidfd;           /* adopted: the exec's process (-1: unusable), the thread's */
        int wake_fd;         /* adopted: eventfd that ends the thread's wait */
        int64_t adopt_ns;    /* adopted: before the first inspect, for Docker's events */
        bool docker_running; /* adopted: Docker's inspect said Running */
        int64_t replay_ns;   /* adopted: no exec_die before then (its file's last write) */
        int log_fd;          /* the thread's (-1: none) */
        uint64_t log_size;   /* the thread's */
        bool log_truncated;  /* the thread's */
        /* under runner->lock: */
        bool ended;
        int exit_code;
        int64_t started_ms, finished_ms;
        char error[256];
};

/* A reader of an attempt's output that waits for more. */
struct exec_follower {
        struct exec_follower *next;
        const char *uid; /* borrowed from exec_runner_stream's caller */
        int attempt;
        int efd;
};

/* A Task's directory of output files, and its key: what forget_key removes. */
struct exec_logdir {
        struct exec_logdir *next;
        char uid[EXEC_UID_MAX];
        char key[EXEC_KEY_MAX];
};

struct exec_runner {
        pthread_mutex_t lock;
        struct exec_entry *entries;
        size_t n_entries;
        struct exec_follower *followers;
        struct exec_logdir *dirs;
        exec_change_fn changed;
        void *userdata;
        int64_t (*now_ms)(void);
        char *log_dir; /* NULL: no files */
};

/* ---- pure helpers ---------------------------------------------------------- */

bool exec_uid_valid(const char *uid)
{
        size_t n = uid ? strlen(uid) : 0;

        if (n == 0 || n >= EXEC_UID_MAX)
                return false;
        for (const char *p = uid; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
                        return false;
        return true;
}

size_t exec_log_fit(uint64_t size, size_t len, uint64_t cap)
{
        if (size >= cap)
                return 0;
        return (uint64_t)len > cap - size ? (size_t)(cap - size) : len;
}

int exec_log_tail_offset(int fd, uint64_t size, int lines, uint64_t *ret)
{
        char block[16 * 1024];
        uint64_t end = size;
        int seen = 0;

        if (lines < 0) {
                *ret = 0;
                return 0;
        }
        if (lines == 0) {
                *ret = size;
                return 0;
        }
        while (end > 0) {
                size_t n = end > sizeof(block) ? sizeof(block) : (size_t)end;
                uint64_t start = end - n;
                ssize_t got = pread(fd, block, n, (off_t)start);
                if (got < 0)
                        return -errno;
                if ((size_t)got != n)
                        return -EIO; /* shorter than fstat said: the files only grow */
                for (size_t i = n; i-- > 0;) {
                        /* The last line's newline ends it, it does not start one. */
                        if (block[i] != '\n' || start + i == size - 1)
                                continue;
                        if (++seen == lines) {
                                *ret = start + i + 1;
                                return 0;
                        }
                }
                end = start;
        }
        *ret = 0;
        return 0;
}

bool exec_environ_has(const char *env, size_t len, const char *entry)
{
        size_t n = strlen(entry);

        for (size_t i = 0; i < len;) {
                const char *s = env + i;
                const char *nul = memchr(s, '\0', len - i);
                size_t l = nul ? (size_t)(nul - s) : len - i;
                if (l == n && memcmp(s, entry, n) == 0)
                        return true;
                i += l + 1;
        }
        return false;
}

int exec_proc_starttime(const char *stat, unsigned long long *ret)
{
        /* "pid (comm) state ppid ...": comm may hold spaces and parentheses;
         * the last ')' ends it. starttime is field 22, the 20th after it. */
        const char *p = stat ? strrchr(stat, ')') : NULL;

        if (!p)
                return -EINVAL;
        p++;
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EINVAL;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1 || (*end != ' ' && *end != '\n' && *end != '\0'))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* ---- files --------------------------------------------------------------- */

static char *log_path(const struct exec_runner *r, const char *uid, int attempt)
{
        return attempt > 0 ? str_printf("%s/%s/%d.log", r->log_dir, uid, attempt)
                           : str_printf("%s/%s", r->log_dir, uid);
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Under r->lock: remembers uid's directory as key's. -ENOMEM. */
static int logdir_add(struct exec_runner *r, const char *uid, const char *key)
{
        for (struct exec_logdir *d = r->dirs; d; d = d->next)
                if (streq(d->uid, uid))
                        return 0;
        struct exec_logdir *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        if (str_copy(d->uid, sizeof(d->uid), uid) < 0 ||
            str_copy(d->key, sizeof(d->key), key) < 0) {
                free(d);
                return -ENAMETOOLONG;
        }
        d->next = r->dirs;
        r->dirs = d;
        return 0;
}

/* Opens e's output file for appending (emptied when truncate), its
 * directory made first; e->log_fd stays -1 without a log_dir. */
static int log_open(struct exec_runner *r, struct exec_entry *e, bool truncate,
                    struct berth_error *err)
{
        if (!r->log_dir)
                return 0;
        if (!exec_uid_valid(e->uid))
                return berth_error_set(err, -EINVAL, "docker-exec: uid %s cannot name a file",
                                       e->uid);
        _cleanup_free_ char *dir = log_path(r, e->uid, 0);
        _cleanup_free_ char *path = log_path(r, e->uid, e->attempt);
        if (!dir || !path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        pthread_mutex_lock(&r->lock);
        int rc = logdir_add(r, e->uid, e->key);
        pthread_mutex_unlock(&r->lock);
        if (rc < 0)
                return berth_error_set(err, rc, "docker-exec: remember %s", dir);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return berth_error_set(err, -errno, "docker-exec: create %s: %s", dir,
                                       strerror(errno));
        int fd = open(
            path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : 0),
            0600);
        if (fd < 0)
                return berth_error_set(err, -errno, "docker-exec: open %s: %s", path,
                                       strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0) {
                rc = -errno;
                close(fd);
                return berth_error_set(err, rc, "docker-exec: stat %s: %s", path, strerror(-rc));
        }
        e->log_fd = fd;
        e->log_size = (uint64_t)st.st_size;
        e->log_truncated = e->log_size >= EXEC_LOG_FILE_MAX;
        return 0;
}

/* Under r->lock: wakes the followers of uid's attempt (0: every attempt). */
static void notify_locked(struct exec_runner *r, const char *uid, int attempt)
{
        for (struct exec_follower *f = r->followers; f; f = f->next)
                if (streq(f->uid, uid) && (attempt == 0 || f->attempt == attempt))
                        (void)eventfd_write(f->efd, 1);
}

/* The exec's thread: appends to the file, up to the cap. A failing write
 * (a full disk) stops the recording, not the exec. */
static void log_append(struct exec_entry *e, const char *data, size_t len)
{
        if (e->log_fd < 0 || e->log_truncated || len == 0)
                return;
        size_t fit = exec_log_fit(e->log_size, len, EXEC_LOG_FILE_MAX);
        int rc = write_all(e->log_fd, data, fit);
        if (rc == 0)
                e->log_size += fit;
        if (rc == 0 && fit < len) {
                (void)write_all(e->log_fd, truncated_note, sizeof(truncated_note) - 1);
                e->log_truncated = true;
        }
        if (rc < 0) {
                close(e->log_fd);
                e->log_fd = -1;
        }
        LOCK_SCOPE(&e->runner->lock);
        notify_locked(e->runner, e->uid, e->attempt);
}

/* Removes a Task's directory of output files. */
static int logdir_remove(const struct exec_runner *r, const char *uid)
{
        _cleanup_free_ char *dir = log_path(r, uid, 0);
        if (!dir)
                return -ENOMEM;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;
        DIR *d = fdopendir(dfd);
        if (!d)
                return -errno;
        dfd = -1; /* the DIR owns it */
        int rc = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        rc = -errno;
        }
        closedir(d);
        if (rmdir(dir) < 0 && errno != ENOENT)
                rc = -errno;
        return rc;
}

/* ---- the runner ------------------------------------------------------------ */

int exec_runner_new(const char *log_dir, exec_change_fn changed, void *userdata,
                    struct exec_runner **ret)
{
        struct exec_runner *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        if (log_dir) {
                r->log_dir = strdup(log_dir);
                int rc = r->log_dir ? mkdir_p(log_dir, 0700) : -ENOMEM;
                if (rc < 0) {
                        free(r->log_dir);
                        free(r);
                        return rc;
                }
        }
        pthread_mutex_init(&r->lock, NULL);
        r->changed = changed;
        r->userdata = userdata;
        r->now_ms = time_now_ms;
        *ret = r;
        return 0;
}

static void entry_free(struct exec_entry *e)
{
        if (e->thread_started) {
                if (e->wake_fd >= 0)
                        (void)eventfd_write(e->wake_fd, 1);
                docker_interrupt(e->docker);
                pthread_join(e->thread, NULL);
        }
        docker_free(e->docker);
        if (e->log_fd >= 0)
                close(e->log_fd);
        if (e->pidfd >= 0)
                close(e->pidfd);
        if (e->wake_fd >= 0)
                close(e->wake_fd);
        free(e);
}

static int entry_new(struct exec_runner *r, const char *key, const char *uid, int attempt,
                     struct exec_entry **ret, struct berth_error *err)
{
        struct exec_entry *e = calloc(1, sizeof(*e));

        if (!e)
                return berth_error_set(err, -ENOMEM, "out of memory");
        e->runner = r;
        e->attempt = attempt;
        e->log_fd = e->pidfd = e->wake_fd = -1;
        if (str_copy(e->uid, sizeof(e->uid), uid) < 0 ||
            str_copy(e->key, sizeof(e->key), key) < 0) {
                entry_free(e);
                return berth_error_set(err, -ENAMETOOLONG, "docker-exec: key or uid too long");
        }
        snprintf(e->token, sizeof(e->token), "%s.%d", uid, attempt);
        *ret = e;
        return 0;
}

void exec_runner_free(struct exec_runner *r)
{
        if (!r)
                return;
        struct exec_entry *e = r->entries;
        while (e) {
                struct exec_entry *next = e->next;
                entry_free(e);
                e = next;
        }
        for (struct exec_logdir *d = r->dirs, *next; d; d = next) {
                next = d->next;
                free(d);
        }
        pthread_mutex_destroy(&r->lock);
        free(r->log_dir);
        free(r);
}

static struct exec_entry *find(struct exec_runner *r, const char *uid)
{
        for (struct exec_entry *e = r->entries; e; e = e->next)
                if (streq(e->uid, uid))
                        return e;
        return NULL;
}

/* Whether uid's attempt is known and ends (or is forgotten) first: the
 * caller must check that before starting a new one. The older attempt of
 * the Task is forgotten. */
static int claim(struct exec_runner *r, const char *uid, int attempt, struct berth_error *err)
{
        pthread_mutex_lock(&r->lock);
        struct exec_entry *old = find(r, uid);
        bool same = old && old->attempt == attempt;
        size_t n = r->n_entries;
        pthread_mutex_unlock(&r->lock);
        if (same) /* idempotent: this attempt is known already */
                return 1;
        if (old)
                exec_runner_forget(r, uid);
        else if (n >= EXEC_RUNS_MAX)
                return berth_error_set(err, -ENOSPC, "docker-exec: %d execs are known already",
                                       EXEC_RUNS_MAX);
        return 0;
}

static void finish(struct exec_entry *e, int rc, const struct docker_exec_info *info,
                   const struct berth_error *err)
{
        struct exec_runner *r = e->runner;

        pthread_mutex_lock(&r->lock);
        e->ended = true;
        e->finished_ms = r->now_ms();
        if (rc == 0 && info->exit_known) {
                e->exit_code = info->exit_code;
        } else {
                /* The stream broke, or the exec went with its container: what
                 * became of the command is unknown, which the Task reads as a
                 * failed attempt (exit code -1). */
                e->exit_code = -1;
                (void)str_copy(e->error, sizeof(e->error),
                               err->message[0] ? err->message : "the exec's end is unknown");
        }
        notify_locked(r, e->uid, e->attempt);
        pthread_mutex_unlock(&r->lock);
        if (r->changed)
                r->changed(e->key, r->userdata);
}

static int on_output(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        (void)stream;
        log_append(userdata, data, len);
        return 0;
}

static void *exec_thread(void *arg)
{
        struct exec_entry *e = arg;
        struct berth_error err = {0};
        struct docker_exec_info info = {0};
        int rc = docker_exec_start(e->docker, e->exec_id, on_output, e, &err);

        if (rc == -EINTR) /* berthd stops, or the Task is forgotten */
                return NULL;
        if (rc == 0)
                rc = docker_exec_inspect(e->docker, e->exec_id, &info, &err);
        finish(e, rc, &info, &err);
        return NULL;
}

/* Links e in and starts its thread (fn; NULL: none, e has ended). */
static void entry_publish(struct exec_runner *r, struct exec_entry *e, void *(*fn)(void *))
{
        pthread_mutex_lock(&r->lock);
        e->next = r->entries;
        r->entries = e;
        r->n_entries++;
        int rc = fn ? pthread_create(&e->thread, NULL, fn, e) : 0;
        e->thread_started = fn && rc == 0;
        if (rc != 0) {
                e->ended = true;
                e->exit_code = -1;
                e->finished_ms = r->now_ms();
                snprintf(e->error, sizeof(e->error), "start exec thread: %s", strerror(rc));
        }
        notify_locked(r, e->uid, e->attempt);
        pthread_mutex_unlock(&r->lock);
}

int exec_runner_start(struct exec_runner *r, struct docker *d, const struct exec_request *req,
                      struct berth_error *err)
{
        int rc = claim(r, req->uid, req->attempt, err);
        if (rc != 0)
                return rc < 0 ? rc : 0;

        struct exec_entry *e;
        rc = entry_new(r, req->key, req->uid, req->attempt, &e, err);
        if (rc < 0)
                return rc;
        if (str_copy(e->container_id, sizeof(e->container_id), req->container_id) < 0) {
                entry_free(e);
                return berth_error_set(err, -ENAMETOOLONG, "docker-exec: container id too long");
        }
        _cleanup_json_ json_t *env = json_array();
        _cleanup_free_ char *tokvar = str_printf("%s=%s", EXEC_TOKEN_VAR, e->token);
        if (!env || !tokvar || json_array_append_new(env, json_string(tokvar)) < 0) {
                entry_free(e);
                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; req->env && req->env[i]; i++)
                if (json_array_append_new(env, json_string(req->env[i])) < 0) {
                        entry_free(e);
                        return berth_error_set(err, -ENOMEM, "out of memory");
                }
        _cleanup_json_ json_t *body =
            json_pack("{s:O, s:O, s:b, s:b, s:b}", "Cmd", req->cmd, "Env", env, "AttachStdout", 1,
                      "AttachStderr", 1, "AttachStdin", 0);
        if (!body || (req->user && json_object_set_new(body, "User", json_string(req->user)) < 0) ||
            (req->working_dir &&
             json_object_set_new(body, "WorkingDir", json_string(req->working_dir)) < 0)) {
                entry_free(e);
                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        /* The file first: an exec whose output cannot be kept does not run. */
        rc = log_open(r, e, true, err);
        if (rc < 0) {
                entry_free(e);
                return rc;
        }
        _cleanup_free_ char *id = NULL;
        rc = docker_exec_create(d, req->container_id, body, &id, err);
        if (rc < 0 || str_copy(e->exec_id, sizeof(e->exec_id), id) < 0) {
                entry_free(e);
                return rc < 0 ? rc : berth_error_set(err, -EPROTO, "docker-exec: odd exec id");
        }
        e->docker = docker_clone(d);
        if (!e->docker) {
                entry_free(e);
                return berth_error_set(err, -ENOMEM, "out of memory");
        }
        e->started_ms = r->now_ms();
        entry_publish(r, e, exec_thread);
        return 0;
}

/* ---- adoption ------------------------------------------------------------- */

/* The adopted exec's thread: waits for the end (a pidfd, else Docker's
 * events), takes the exit code from Docker's exec_die event, else from an
 * inspect. */
static void *adopt_thread(void *arg)
{
        struct exec_entry *e = arg;
        struct berth_error err = {0};
        struct docker_exec_info info = {0};
        int64_t since_ns, until_ns = 0;
        int rc, code;

        if (e->pidfd >= 0) {
                struct pollfd p[2] = {{.fd = e->pidfd, .events = POLLIN},
                                      {.fd = e->wake_fd, .events = POLLIN}};
                while ((rc = poll(p, 2, -1)) < 0 && errno == EINTR)
                        ;
                if (rc < 0 || p[1].revents)
                        return NULL; /* forgotten, or berthd stops */
                /* Its exec_die follows the exit, which was before now. */
                since_ns = time_now_ms() * 1000000 - 2000000000LL;
        } else if (e->docker_running) {
                since_ns = e->adopt_ns - 1000000000LL;
        } else {
                /* Ended while berthd was down: Docker's recent events still
                 * have its exec_die, unless many came since. */
                since_ns = e->replay_ns;
                until_ns = time_now_ms() * 1000000 + 1000000000LL;
        }
        rc = docker_exec_wait_die(e->docker, e->container_id, e->exec_id, since_ns, until_ns, &code,
                                  &err);
        if (rc == -EINTR)
                return NULL;
        if (rc == 0) {
                info = (struct docker_exec_info){.exit_known = true, .exit_code = code};
        } else {
                /* The inspect's code: 126 when Docker saw the attach end. */
                berth_error_clear(&err);
                rc = docker_exec_inspect(e->docker, e->exec_id, &info, &err);
                if (rc == -EINTR)
                        return NULL;
                if (rc == 0 && info.running)
                        rc = berth_error_set(&err, -EIO, "exec %.12s: its end is unknown",
                                             e->exec_id);
        }
        finish(e, rc, &info, &err);
        return NULL;
}

/* A pidfd of the exec's process, when Docker's Pid is that process in our
 * pid namespace (its environment holds the exec's token); -1 otherwise.
 * *ret_start_ms: when it started, if known. */
static int pid_watch(const struct exec_entry *e, int pid, int64_t *ret_start_ms)
{
        if (pid <= 0)
                return -1;
        _cleanup_close_ int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -1;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/environ", pid);
        _cleanup_close_ int efd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *env = malloc(ENVIRON_MAX);
        _cleanup_free_ char *tokvar = str_printf("%s=%s", EXEC_TOKEN_VAR, e->token);
        size_t len = 0;
        if (efd < 0 || !env || !tokvar)
                return -1;
        for (ssize_t n; len < ENVIRON_MAX && (n = read(efd, env + len, ENVIRON_MAX - len)) != 0;) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -1;
                len += (size_t)n;
        }
        if (!exec_environ_has(env, len, tokvar))
                return -1;

        /* Its start, from /proc (clock ticks since boot), for a per-attempt
         * deadline; pid reuse is ruled out by the pidfd opened first. */
        char stat[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        _cleanup_close_ int sfd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = sfd >= 0 ? read(sfd, stat, sizeof(stat) - 1) : -1;
        unsigned long long ticks;
        struct timespec boot;
        long hz = sysconf(_SC_CLK_TCK);
        if (n > 0 && hz > 0 && clock_gettime(CLOCK_BOOTTIME, &boot) == 0) {
                stat[n] = '\0';
                if (exec_proc_starttime(stat, &ticks) == 0) {
                        int64_t boot_ms = (int64_t)boot.tv_sec * 1000 + boot.tv_nsec / 1000000;
                        int64_t since_boot_ms = (int64_t)(ticks * 1000 / (unsigned long long)hz);
                        if (since_boot_ms <= boot_ms)
                                *ret_start_ms = time_now_ms() - (boot_ms - since_boot_ms);
                }
        }
        return TAKE_FD(fd);
}

int exec_runner_adopt(struct exec_runner *r, struct docker *d, const char *key, const char *uid,
                      int attempt, const char *exec_id, struct berth_error *err)
{
        int rc = claim(r, uid, attempt, err);
        if (rc != 0)
                return rc < 0 ? rc : 0;

        struct exec_entry *e;
        rc = entry_new(r, key, uid, attempt, &e, err);
        if (rc < 0)
                return rc;
        if (str_copy(e->exec_id, sizeof(e->exec_id), exec_id) < 0) {
                entry_free(e);
                return berth_error_set(err, -ENOENT, "docker-exec: odd exec id %s", exec_id);
        }
        e->adopted = true;
        e->adopt_ns = r->now_ms() * 1000000;
        struct docker_exec_info info;
        rc = docker_exec_inspect(d, exec_id, &info, err);
        if (rc == 0 && !info.container_id[0])
                rc = berth_error_set(err, -EPROTO, "inspect exec %s: no ContainerID", exec_id);
        if (rc < 0) {
                entry_free(e);
                return rc;
        }
        (void)str_copy(e->container_id, sizeof(e->container_id), info.container_id);
        e->docker_running = info.running;
        e->replay_ns = 1;
        /* The note, at most: the output itself is not recoverable. Its
         * last write before tells since when to look for the exec's end. */
        struct berth_error ferr = {0};
        struct stat st;
        if (log_open(r, e, false, &ferr) == 0 && e->log_fd >= 0) {
                if (fstat(e->log_fd, &st) == 0)
                        e->replay_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
                                       st.st_mtim.tv_nsec - 2000000000LL;
                if (!e->log_truncated)
                        (void)write_all(e->log_fd, adopted_note, sizeof(adopted_note) - 1);
                close(e->log_fd);
                e->log_fd = -1;
        }
        /* Its process alive is what counts: Docker's Running is false
         * once the attached client went away and the command wrote. */
        e->started_ms = r->now_ms(); /* unless /proc tells */
        e->pidfd = pid_watch(e, info.pid, &e->started_ms);
        if (e->pidfd < 0 && !info.running)
                e->started_ms = 0;
        e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        e->docker = docker_clone(d);
        if (e->wake_fd < 0 || !e->docker) {
                rc = e->wake_fd < 0 ? -errno : -ENOMEM;
                entry_free(e);
                return berth_error_set(err, rc, "docker-exec: adopt exec %.12s: %s", exec_id,
                                       strerror(-rc));
        }
        entry_publish(r, e, adopt_thread);
        return 0;
}

/* ---- observe, signal, forget ------------------------------------------------ */

int exec_runner_observe(struct exec_runner *r, const char *uid, struct exec_observed *ret)
{
        LOCK_SCOPE(&r->lock);
        struct exec_entry *e = find(r, uid);

        if (!e)
                return -ENOENT;
        *ret = (struct exec_observed){
            .attempt = e->attempt,
            .ended = e->ended,
            .adopted = e->adopted,
            .exit_code = e->exit_code,
            .started_ms = e->started_ms,
            .finished_ms = e->finished_ms,
        };
        (void)str_copy(ret->exec_id, sizeof(ret->exec_id), e->exec_id);
        (void)str_copy(ret->container_id, sizeof(ret->container_id), e->container_id);
        (void)str_copy(ret->token, sizeof(ret->token), e->token);
        (void)str_copy(ret->error, sizeof(ret->error), e->error);
        return 0;
}

static int kill_output(enum docker_stream stream, const char *data, size_t len, void *userdata)
{
        (void)stream, (void)data, (void)len, (void)userdata;
        return 0;
}

int exec_runner_signal(struct exec_runner *r, struct docker *d, const char *uid, const char *signal,
                       struct berth_error *err)
{
        struct exec_observed o;

        if (exec_runner_observe(r, uid, &o) < 0 || o.ended)
                return 0;
        const char *sig = signal ? signal : "SIGKILL";
        if (strncmp(sig, "SIG", 3) == 0)
                sig += 3;
        _cleanup_json_ json_t *body =
            json_pack("{s:[s,s,s,s,s,s], s:s, s:b, s:b}", "Cmd", "sh", "-c", kill_script, "sh", sig,
                      o.token, "User", "0", "AttachStdout", 1, "AttachStderr", 1);
        _cleanup_free_ char *id = NULL;
        if (!body)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int rc = docker_exec_create(d, o.container_id, body, &id, err);
        if (rc == -ENOENT || rc == -EBUSY) /* the container is gone or stopped: so is the exec */
                return 0;
        if (rc < 0)
                return rc;
        return docker_exec_start(d, id, kill_output, NULL, err);
}

void exec_runner_forget(struct exec_runner *r, const char *uid)
{
        pthread_mutex_lock(&r->lock);
        struct exec_entry **p = &r->entries, *e = NULL;
        for (; *p; p = &(*p)->next)
                if (streq((*p)->uid, uid)) {
                        e = *p;
                        *p = e->next;
                        r->n_entries--;
                        break;
                }
        pthread_mutex_unlock(&r->lock);
        if (e)
                entry_free(e);
        /* Followers of its attempt see it no longer runs: theirs ends. */
        LOCK_SCOPE(&r->lock);
        notify_locked(r, uid, 0);
}

void exec_runner_forget_key(struct exec_runner *r, const char *key)
{
        for (;;) {
                char uid[EXEC_UID_MAX] = "";
                pthread_mutex_lock(&r->lock);
                for (struct exec_entry *e = r->entries; e; e = e->next)
                        if (streq(e->key, key)) {
                                (void)str_copy(uid, sizeof(uid), e->uid);
                                break;
                        }
                pthread_mutex_unlock(&r->lock);
                if (!uid[0])
                        break;
                exec_runner_forget(r, uid);
        }
        /* Its files, of every uid the key had (deleted and created again). */
        for (;;) {
                struct exec_logdir *d = NULL;
                pthread_mutex_lock(&r->lock);
                for (struct exec_logdir **p = &r->dirs; *p; p = &(*p)->next)
                        if (streq((*p)->key, key)) {
                                d = *p;
                                *p = d->next;
                                break;
                        }
                pthread_mutex_unlock(&r->lock);
                if (!d)
                        return;
                if (r->log_dir)
                        (void)logdir_remove(r, d->uid);
                free(d);
        }
}

int exec_runner_collect(struct exec_runner *r, exec_keep_fn keep, void *userdata,
                        size_t *ret_removed, struct berth_error *err)
{
        size_t removed = 0;

        if (ret_removed)
                *ret_removed = 0;
        if (!r->log_dir)
                return 0;
        DIR *d = opendir(r->log_dir);
        if (!d)
                return berth_error_set(err, -errno, "docker-exec: read %s: %s", r->log_dir,
                                       strerror(errno));
        int rc = 0;
        for (struct dirent *de; rc == 0 && (de = readdir(d));) {
                char key[EXEC_KEY_MAX];
                if (!exec_uid_valid(de->d_name))
                        continue; /* ".", "..", and nothing of ours */
                if (keep(de->d_name, key, sizeof(key), userdata)) {
                        LOCK_SCOPE(&r->lock);
                        rc = logdir_add(r, de->d_name, key);
                        if (rc < 0)
                                berth_error_set(err, rc, "docker-exec: remember %s", de->d_name);
                        continue;
                }
                rc = logdir_remove(r, de->d_name);
                if (rc < 0)
                        berth_error_set(err, rc, "docker-exec: remove %s/%s: %s", r->log_dir,
                                        de->d_name, strerror(-rc));
                else
                        removed++;
        }
        closedir(d);
        if (ret_removed)
                *ret_removed = removed;
        return rc;
}

/* ---- reading ---------------------------------------------------------------- */

/* Copies fd from *off to its end to fn. 1: fn asked to stop. */
static int copy_out(int fd, uint64_t *off, docker_log_fn fn, void *userdata)
{
        char block[16 * 1024];

        for (;;) {
                ssize_t n = pread(fd, block, sizeof(block), (off_t)*off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                *off += (uint64_t)n;
                if (fn(DOCKER_STREAM_STDOUT, block, (size_t)n, userdata) != 0)
                        return 1;
        }
}

static bool running_locked(struct exec_runner *r, const char *uid, int attempt)
{
        const struct exec_entry *e = find(r, uid);
        return e && e->attempt == attempt && !e->ended;
}

int exec_runner_stream(struct exec_runner *r, const char *uid, int attempt, int tail, bool follow,
                       int cancel_fd, docker_log_fn fn, void *userdata, struct berth_error *err)
{
        struct exec_follower f = {.uid = uid, .attempt = attempt, .efd = -1};
        uint64_t off = 0;
        int rc;

        if (!r || !r->log_dir || !exec_uid_valid(uid) || attempt < 1)
                return berth_error_set(err, -ENOENT, "no exec output is kept");
        _cleanup_free_ char *path = log_path(r, uid, attempt);
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
                return berth_error_set(err, -ENOENT, "no output of attempt %d (yet)", attempt);
        if (fd < 0)
                return berth_error_set(err, -errno, "open %s: %s", path, strerror(errno));
        if (follow) {
                /* Before the first read: no append after it goes unnoticed. */
                f.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (f.efd < 0)
                        return berth_error_set(err, -errno, "eventfd: %s", strerror(errno));
                LOCK_SCOPE(&r->lock);
                f.next = r->followers;
                r->followers = &f;
        }
        struct stat st;
        if (tail >= 0) {
                rc = fstat(fd, &st) < 0 ? -errno : 0;
                if (rc == 0)
                        rc = exec_log_tail_offset(fd, (uint64_t)st.st_size, tail, &off);
                if (rc < 0) {
                        berth_error_set(err, rc, "read %s: %s", path, strerror(-rc));
                        goto out;
                }
        }
        for (;;) {
                rc = copy_out(fd, &off, fn, userdata);
                if (rc != 0 || !follow)
                        break;
                pthread_mutex_lock(&r->lock);
                bool running = running_locked(r, uid, attempt);
                pthread_mutex_unlock(&r->lock);
                if (!running) { /* ended: what it wrote before is in the file */
                        rc = copy_out(fd, &off, fn, userdata);
                        break;
                }
                struct pollfd p[2] = {{.fd = f.efd, .events = POLLIN},
                                      {.fd = cancel_fd, .events = POLLIN}};
                if (poll(p, cancel_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) {
                        rc = -errno;
                        break;
                }
                if (cancel_fd >= 0 && p[1].revents) {
                        rc = -ECANCELED;
                        break;
                }
                eventfd_t v;
                (void)eventfd_read(f.efd, &v);
        }
        if (rc < 0 && rc != -ECANCELED)
                berth_error_set(err, rc, "read %s: %s", path, strerror(-rc));
        if (rc == 1)
                rc = 0;
out:
        if (follow) {
                pthread_mutex_lock(&r->lock);
                for (struct exec_follower **p = &r->followers; *p; p = &(*p)->next)
                        if (*p == &f) {
                                *p = f.next;
                                break;
                        }
                pthread_mutex_unlock(&r->lock);
                close(f.efd);
        }
        return rc;
}
