/* dir-watch.c: a directory tree under inotify (the contract is in
 * watchers.h, the debounce in debounce.c).
 *
 * Threads: dir_watch_new() arms the watches on the caller's thread; then one
 * thread owns the inotify fd, the wd → directory map, the ancestor watch and
 * the debounce, and blocks in poll() on the inotify fd and an eventfd (stop,
 * test injections) with the debounce's next deadline as the timeout. 'mu'
 * guards only what other threads read or ask for: the published count, the
 * error, stop and the injected overflow. It is never held while fn runs.
 *
 * Rebuilding (overflow, unmount, periodic rescan, the root lost) closes the
 * inotify fd and walks the tree with a fresh one: removing 100,000 watches
 * one by one would queue as many IN_IGNORED events and overflow the new
 * queue, and the old queue's events name watches that no longer exist. The
 * events still in the read buffer are dropped with it; the caller is told
 * RESCAN (or a root event) and looks at the whole tree anyway.
 */
#include "watchers-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#define CHANGE_MASK                                                                                \
        (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |        \
         IN_ATTRIB)
/* Never follow a symlinked directory: a link leaving the tree is not ours. */
#define DIR_MASK (CHANGE_MASK | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
/* The root may be reached through symlinks: its path is configuration. */
#define ROOT_MASK (DIR_MASK & ~(uint32_t)IN_DONT_FOLLOW)
/* While the root is missing: its next path component appearing, or the
 * ancestor itself going. */
#define ANCESTOR_MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* One read: room for hundreds of events (each at most sizeof(struct
 * inotify_event) + NAME_MAX + 1 bytes); the kernel never splits one. */
#define READ_BUF_SIZE (64 * 1024)
/* Retry of inotify_init1() after it failed (an error's retry; watching
 * itself never polls). */
#define REOPEN_RETRY_MS 5000
/* Attempts at arming while the root or its ancestors keep appearing and
 * vanishing under us. */
#define ARM_TRIES 64

/* The wd → directory map: open addressing, linear probing, backward-shift
 * deletion; path == NULL marks an empty slot. */
struct wdir {
        int wd;
        char *path; /* absolute */
};

struct wmap {
        struct wdir *slots;
        size_t cap; /* 0 or a power of two */
        size_t n;
};

/* Directories still to walk, depth first. */
struct pathstack {
        char **v;
        size_t n, cap;
};

struct dir_watch {
        char *root; /* absolute, no trailing '/' (but "/") */
        bool recursive;
        char **ignore; /* NULL-terminated, may be NULL */
        struct dir_watch_ops ops;
        dir_watch_fn fn;
        void *userdata;

        int wake_fd;
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t mu;

        /* Under mu: */
        bool stop;
        bool inject_overflow;
        size_t count;
        struct berth_error error;
        unsigned errors_more;

        /* The watch thread's (dir_watch_new's until it starts it): */
        int ifd;
        unsigned generation; /* of ifd: bumped when it is replaced */
        struct wmap map;
        int root_wd;
        bool root_present;
        int anc_wd;                  /* the ancestor watched while the root is missing */
        char anc_next[NAME_MAX + 1]; /* the root's path component below it */
        bool limit_reported;
        int64_t now;
        int64_t reopen_at; /* -1: ifd is open */
        struct debounce d;
        char *buf;
};

/* ---- the map ------------------------------------------------------------- */

static size_t slot_of(int wd, size_t cap)
{
        return ((uint32_t)wd * 2654435761u) & (cap - 1);
}

static struct wdir *wmap_get(struct wmap *m, int wd)
{
        if (!m->cap)
                return NULL;
        for (size_t i = slot_of(wd, m->cap);; i = (i + 1) & (m->cap - 1)) {
                if (!m->slots[i].path)
                        return NULL;
                if (m->slots[i].wd == wd)
                        return &m->slots[i];
        }
}

static void wmap_insert_slot(struct wdir *slots, size_t cap, int wd, char *path)
{
        size_t i = slot_of(wd, cap);

        while (slots[i].path)
                i = (i + 1) & (cap - 1);
        slots[i] = (struct wdir){.wd = wd, .path = path};
}

/* Adds wd (not in the map yet), stealing path. -ENOMEM leaves both alone. */
static int wmap_put(struct wmap *m, int wd, char *path)
{
        if ((m->n + 1) * 4 > m->cap * 3) {
                size_t cap = m->cap ? m->cap * 2 : 64;
                struct wdir *slots = calloc(cap, sizeof(*slots));
                if (!slots)
                        return -ENOMEM;
                for (size_t i = 0; i < m->cap; i++) {
                        if (m->slots[i].path)
                                wmap_insert_slot(slots, cap, m->slots[i].wd, m->slots[i].path);
                }
                free(m->slots);
                m->slots = slots;
                m->cap = cap;
        }
        wmap_insert_slot(m->slots, m->cap, wd, path);
        m->n++;
        return 0;
}

static void wmap_del(struct wmap *m, int wd)
{
        struct wdir *e = wmap_get(m, wd);
        size_t mask = m->cap - 1;

        if (!e)
                return;
        free(e->path);
        size_t i = (size_t)(e - m->slots);
        /* Backward shift: pull later entries of the run into the hole when
         * their home slot does not lie cyclically in (i, j]. */
        for (size_t j = (i + 1) & mask; m->slots[j].path; j = (j + 1) & mask) {
                size_t k = slot_of(m->slots[j].wd, m->cap);
                bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
                if (stays)
                        continue;
                m->slots[i] = m->slots[j];
                i = j;
        }
        m->slots[i] = (struct wdir){0};
        m->n--;
}

static void wmap_release(struct wmap *m)
{
        for (size_t i = 0; i < m->cap; i++)
                free(m->slots[i].path);
        free(m->slots);
        *m = (struct wmap){0};
}

/* ---- errors and the published state -------------------------------------- */

/* Something may have been missed: kept for dir_watch_take_error() and
 * reported as RESCAN. */
static void _printf_(3, 4) problem(struct dir_watch *w, int code, const char *fmt, ...)
{
        char msg[BERTH_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&w->mu);
        if (w->error.code == 0)
                berth_error_set(&w->error, code, "%s", msg);
        else
                w->errors_more++;
        pthread_mutex_unlock(&w->mu);
        debounce_event(&w->d, w->now, DIR_WATCH_RESCAN);
}

static void publish(struct dir_watch *w)
{
        size_t count = w->map.n + (w->anc_wd >= 0 ? 1 : 0);

        pthread_mutex_lock(&w->mu);
        w->count = count;
        pthread_mutex_unlock(&w->mu);
}

static size_t max_dirs(const struct dir_watch *w)
{
        return w->ops.max_dirs ? w->ops.max_dirs : DIR_WATCH_MAX_DIRS;
}

static void over_limit(struct dir_watch *w)
{
        if (w->limit_reported)
                return;
        w->limit_reported = true;
        problem(w, -E2BIG, "more than %zu directories under %s: the rest is not watched",
                max_dirs(w), w->root);
}

/* ---- walking ------------------------------------------------------------- */

static int real_add_watch(int fd, const char *path, uint32_t mask, void *userdata)
{
        (void)userdata;
        return inotify_add_watch(fd, path, mask);
}

static int add_watch(struct dir_watch *w, const char *path, uint32_t mask)
{
        int wd = w->ops.add_watch(w->ifd, path, mask, w->ops.userdata);

        return wd < 0 ? (errno ? -errno : -EIO) : wd;
}

/* The path vanished or is no directory (any more): its own event tells. */
static bool is_gone(int r)
{
        return r == -ENOENT || r == -ENOTDIR || r == -ELOOP;
}

static bool is_ignored(const struct dir_watch *w, const char *name)
{
        return strv_contains((const char *const *)w->ignore, name);
}

static char *path_join(const char *dir, const char *name)
{
        return str_printf("%s%s%s", dir, str_has_suffix(dir, "/") ? "" : "/", name);
}

static int stack_push(struct pathstack *st, char *path)
{
        char **v = watchers_grow(st->v, st->n, &st->cap, sizeof(*v), 16);

        if (!v)
                return -ENOMEM;
        st->v = v;
        st->v[st->n++] = path;
        return 0;
}

/* Pushes the subdirectories of path (opened as fd) that are to be watched. */
static void push_subdirs(struct dir_watch *w, const char *path, int fd, struct pathstack *st)
{
        DIR *dir = fdopendir(fd);
        struct dirent *de;

        if (!dir) {
                problem(w, -errno, "list %s: %s", path, strerror(errno));
                close(fd);
                return;
        }
        for (;;) {
                struct stat sb;

                errno = 0;
                de = readdir(dir);
                if (!de) {
                        if (errno != 0 && !is_gone(-errno))
                                problem(w, -errno, "list %s: %s", path, strerror(errno));
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                bool isdir = de->d_type == DT_DIR;
                if (de->d_type == DT_UNKNOWN)
                        isdir = fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                                S_ISDIR(sb.st_mode);
                if (!isdir || is_ignored(w, de->d_name))
                        continue;
                if (w->map.n + st->n >= max_dirs(w)) {
                        over_limit(w);
                        break;
                }
                char *child = path_join(path, de->d_name);
                if (!child) {
                        problem(w, -ENOMEM, "list %s: out of memory", path);
                        break;
                }
                if (strlen(child) >= PATH_MAX) {
                        problem(w, -ENAMETOOLONG, "watch %s: path too long", child);
                        free(child);
                        continue;
                }
                if (stack_push(st, child) < 0) {
                        free(child);
                        problem(w, -ENOMEM, "list %s: out of memory", path);
                        break;
                }
        }
        closedir(dir);
}

/* Watches one directory and queues its subdirectories. 0 when it is watched
 * (or already was), else -errno (a problem was recorded unless it is gone). */
static int watch_dir(struct dir_watch *w, const char *path, bool is_root, struct pathstack *st)
{
        if (w->map.n >= max_dirs(w)) {
                over_limit(w);
                return -E2BIG;
        }
        int wd = add_watch(w, path, is_root ? ROOT_MASK : DIR_MASK);
        if (wd < 0) {
                if (!is_gone(wd))
                        problem(w, wd, "watch %s: %s", path, strerror(-wd));
                return wd;
        }
        /* Known already: an event about a directory a walk found first, or
         * the same directory twice through a bind mount (do not loop). */
        if (wmap_get(&w->map, wd))
                return 0;
        char *copy = strdup(path);
        if (!copy || wmap_put(&w->map, wd, copy) < 0) {
                free(copy);
                inotify_rm_watch(w->ifd, wd);
                problem(w, -ENOMEM, "watch %s: out of memory", path);
                return -ENOMEM;
        }
        if (is_root)
                w->root_wd = wd;
        if (!w->recursive)
                return 0;
        /* After the watch: whatever appears from now on has an event. */
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_root ? 0 : O_NOFOLLOW));
        if (fd < 0) {
                if (!is_gone(-errno))
                        problem(w, -errno, "list %s: %s", path, strerror(errno));
                return 0;
        }
        push_subdirs(w, path, fd, st);
        return 0;
}

/* Watches top and, when recursive, every directory below it. Returns what
 * watching top itself gave. */
static int watch_tree(struct dir_watch *w, const char *top, bool is_root)
{
        struct pathstack st = {0};
        int r = watch_dir(w, top, is_root, &st);

        while (st.n > 0) {
                _cleanup_free_ char *path = st.v[--st.n];
                watch_dir(w, path, false, &st);
        }
        free(st.v);
        return r;
}

/* Stops watching path and everything below it (moved out of the tree, or
 * renamed: the new name is walked again). */
static void unwatch_tree(struct dir_watch *w, const char *path)
{
        size_t len = strlen(path), n = 0;
        _cleanup_free_ int *wds = NULL;

        if (w->map.n == 0)
                return;
        wds = calloc(w->map.n, sizeof(*wds));
        if (!wds) {
                problem(w, -ENOMEM, "unwatch %s: out of memory", path);
                return;
        }
        for (size_t i = 0; i < w->map.cap; i++) {
                const char *p = w->map.slots[i].path;
                if (p && strncmp(p, path, len) == 0 && (p[len] == '\0' || p[len] == '/'))
                        wds[n++] = w->map.slots[i].wd;
        }
        for (size_t i = 0; i < n; i++) {
                /* Its IN_IGNORED comes later and finds nothing. */
                inotify_rm_watch(w->ifd, wds[i]);
                wmap_del(&w->map, wds[i]);
        }
}

/* ---- arming the root ----------------------------------------------------- */

static void unwatch_ancestor(struct dir_watch *w)
{
        if (w->anc_wd >= 0)
                inotify_rm_watch(w->ifd, w->anc_wd);
        w->anc_wd = -1;
}

/* Watches the nearest existing ancestor of the missing root for its next
 * path component. 0 when armed (or given up: a problem was recorded),
 * -EAGAIN when what we saw changed meanwhile. */
static int arm_ancestor(struct dir_watch *w)
{
        char path[PATH_MAX];
        struct stat sb;
        size_t len;

        /* The root is absolute and shorter than PATH_MAX, so "/" ends the search. */
        if (str_copy(path, sizeof(path), w->root) < 0)
                return 0;
        for (;;) {
                char *slash = strrchr(path, '/');
                len = (size_t)(slash - path);
                if (len == 0)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                if ((stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) || len == 0)
                        break;
        }
        const char *next = w->root + len + 1;
        size_t next_len = strcspn(next, "/");
        if (next_len == 0 || next_len >= sizeof(w->anc_next)) {
                problem(w, -ENAMETOOLONG, "watch %s: bad path component", w->root);
                return 0;
        }
        memcpy(w->anc_next, next, next_len);
        w->anc_next[next_len] = '\0';

        int wd = add_watch(w, path, ANCESTOR_MASK);
        if (wd < 0) {
                if (is_gone(wd))
                        return -EAGAIN;
                problem(w, wd, "watch %s (for %s to appear): %s", path, w->root, strerror(-wd));
                return 0;
        }
        w->anc_wd = wd;
        /* Created between the stat and the watch: no event will tell. */
        _cleanup_free_ char *child = path_join(path, w->anc_next);
        if (child && stat(child, &sb) == 0 && S_ISDIR(sb.st_mode)) {
                unwatch_ancestor(w);
                return -EAGAIN;
        }
        return 0;
}

/* Watches the root and its tree, or the ancestor while it is missing; the
 * inotify fd holds none of our watches. Sets root_present. */
static void arm(struct dir_watch *w)
{
        struct stat sb;

        for (int i = 0; i < ARM_TRIES; i++) {
                if (stat(w->root, &sb) == 0 && S_ISDIR(sb.st_mode)) {
                        w->root_present = true;
                        /* Watched, or there but not watchable (a problem was
                         * recorded; the periodic rescan tries again). Gone
                         * meanwhile: its ancestor then. */
                        if (!is_gone(watch_tree(w, w->root, true)))
                                return;
                }
                w->root_present = false;
                if (arm_ancestor(w) == 0)
                        return;
        }
        problem(w, -EAGAIN, "watch %s: it keeps appearing and vanishing", w->root);
}

/* Reports the root's transition since was_present. */
static void report_root(struct dir_watch *w, bool was_present)
{
        if (was_present && !w->root_present)
                debounce_event(&w->d, w->now, DIR_WATCH_ROOT_GONE);
        else if (!was_present && w->root_present)
                debounce_event(&w->d, w->now, DIR_WATCH_ROOT_BACK);
}

/* Drops every watch with the inotify fd and arms again on a fresh one. */
static void rebuild(struct dir_watch *w)
{
        bool was_present = w->root_present;

        if (w->ifd >= 0)
                close(w->ifd);
        w->generation++;
        wmap_release(&w->map);
        w->root_wd = w->anc_wd = -1;
        w->limit_reported = false;
        w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->ifd < 0) {
                problem(w, -errno, "inotify for %s: %s", w->root, strerror(errno));
                w->reopen_at = w->now + REOPEN_RETRY_MS;
                return;
        }
        w->reopen_at = -1;
        arm(w);
        report_root(w, was_present);
}

static void root_lost(struct dir_watch *w)
{
        debounce_event(&w->d, w->now, DIR_WATCH_ROOT_GONE);
        /* A root moved away keeps its watches: a fresh fd drops them. Back
         * at once (replaced, or an unmount uncovering the mount point) is
         * ROOT_BACK. */
        w->root_present = false;
        rebuild(w);
}

static void overflowed(struct dir_watch *w)
{
        problem(w, -EOVERFLOW, "inotify event queue overflowed for %s", w->root);
        rebuild(w);
}

/* ---- events -------------------------------------------------------------- */

static void ancestor_event(struct dir_watch *w, const struct inotify_event *ev)
{
        bool appeared =
            (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len && streq(ev->name, w->anc_next);
        bool gone = ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED);

        if (!appeared && !gone)
                return;
        if (ev->mask & IN_IGNORED)
                w->anc_wd = -1;
        unwatch_ancestor(w);
        arm(w);
        report_root(w, false);
}

/* Handles one event of the current inotify fd. */
static void handle_event(struct dir_watch *w, const struct inotify_event *ev)
{
        const char *name = ev->len ? ev->name : NULL;
        uint32_t mask = ev->mask;

        if (mask & IN_Q_OVERFLOW) {
                overflowed(w);
                return;
        }
        if (w->anc_wd >= 0 && ev->wd == w->anc_wd) {
                ancestor_event(w, ev);
                return;
        }
        struct wdir *dir = wmap_get(&w->map, ev->wd);
        if (!dir)
                return; /* a watch dropped already */
        if (ev->wd == w->root_wd &&
            (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED))) {
                root_lost(w);
                return;
        }
        if (mask & IN_IGNORED) {
                wmap_del(&w->map, ev->wd);
                return;
        }
        if (mask & IN_UNMOUNT) {
                /* A file system mounted inside the tree went: the mount point's own
                 * directory is to be watched now. */
                problem(w, -ENODEV, "file system unmounted under %s", dir->path);
                rebuild(w);
                return;
        }
        if (!(mask & CHANGE_MASK))
                return; /* a directory's own deletion or move: its parent's event tells */
        bool isdir = mask & IN_ISDIR;
        if (name && !isdir && dir_watch_name_is_noise(name))
                return;
        if (name && isdir && w->recursive) {
                _cleanup_free_ char *child = path_join(dir->path, name);
                if (!child) {
                        problem(w, -ENOMEM, "watch a new directory under %s: out of memory",
                                dir->path);
                        return;
                }
                if (mask & IN_MOVED_FROM)
                        unwatch_tree(w, child);
                /* IN_ATTRIB: perhaps readable now. A populated directory
                 * moved or created in one go is walked now: its contents
                 * have no events of their own. */
                if ((mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB)) && !is_ignored(w, name))
                        watch_tree(w, child, false);
        }
        debounce_event(&w->d, w->now, DIR_WATCH_CHANGED);
}

static void read_events(struct dir_watch *w)
{
        ssize_t n = read(w->ifd, w->buf, READ_BUF_SIZE);
        unsigned generation = w->generation;

        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                problem(w, -errno, "read inotify events for %s: %s", w->root, strerror(errno));
                rebuild(w);
                return;
        }
        /* The events stop making sense once the fd they came from is gone. */
        for (ssize_t off = 0; off < n && generation == w->generation;) {
                const struct inotify_event *ev = (const struct inotify_event *)(w->buf + off);
                off += (ssize_t)(sizeof(*ev) + ev->len);
                handle_event(w, ev);
        }
}

/* ---- the thread ---------------------------------------------------------- */

static int poll_timeout(const struct dir_watch *w)
{
        int64_t deadline = debounce_deadline(&w->d);

        if (w->reopen_at >= 0 && (deadline < 0 || w->reopen_at < deadline))
                deadline = w->reopen_at;
        if (deadline < 0)
                return -1;
        if (deadline <= w->now)
                return 0;
        return deadline - w->now > INT_MAX ? INT_MAX : (int)(deadline - w->now);
}

static void *watch_main(void *userdata)
{
        struct dir_watch *w = userdata;

        for (;;) {
                struct pollfd fds[2] = {{.fd = w->wake_fd, .events = POLLIN},
                                        {.fd = w->ifd, .events = POLLIN}};
                enum dir_watch_reason reason;
                uint64_t v;
                bool stop, inject;

                w->now = time_mono_ms();
                if (poll(fds, w->ifd >= 0 ? 2 : 1, poll_timeout(w)) < 0 && errno != EINTR)
                        problem(w, -errno, "poll inotify for %s: %s", w->root, strerror(errno));
                w->now = time_mono_ms();
                if (fds[0].revents) {
                        while (read(w->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
                                ;
                }
                pthread_mutex_lock(&w->mu);
                stop = w->stop;
                inject = w->inject_overflow;
                w->inject_overflow = false;
                pthread_mutex_unlock(&w->mu);
                if (stop)
                        break;
                if (inject)
                        overflowed(w);
                else if (w->ifd >= 0 && (fds[1].revents & POLLIN))
                        read_events(w);
                if (w->reopen_at >= 0 && w->now >= w->reopen_at)
                        rebuild(w);
                if (debounce_rescan_due(&w->d, w->now))
                        rebuild(w);
                publish(w);
                /* While the root is missing only its return is news. */
                if (debounce_fire(&w->d, w->now, &reason) &&
                    (w->root_present || reason == DIR_WATCH_ROOT_GONE))
                        w->fn(reason, w->userdata);
        }
        return NULL;
}

/* ---- public -------------------------------------------------------------- */

static void wake(struct dir_watch *w)
{
        uint64_t one = 1;

        /* A full counter (never in practice) is awake already. */
        while (write(w->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
                ;
}

void dir_watch_free(struct dir_watch *w)
{
        if (!w)
                return;
        if (w->thread_started) {
                pthread_mutex_lock(&w->mu);
                w->stop = true;
                pthread_mutex_unlock(&w->mu);
                wake(w);
                pthread_join(w->thread, NULL);
        }
        if (w->ifd >= 0)
                close(w->ifd);
        if (w->wake_fd >= 0)
                close(w->wake_fd);
        wmap_release(&w->map);
        pthread_mutex_destroy(&w->mu);
        strv_free(w->ignore);
        free(w->root);
        free(w->buf);
        free(w);
}

size_t dir_watch_count(struct dir_watch *w)
{
        LOCK_SCOPE(&w->mu);
        return w->count;
}

int dir_watch_take_error(struct dir_watch *w, struct berth_error *ret)
{
        LOCK_SCOPE(&w->mu);
        int code = w->error.code;

        if (code == 0)
                return 0;
        if (ret) {
                *ret = w->error;
                if (w->errors_more)
                        berth_error_set(ret, code, "%s (and %u more)", w->error.message,
                                        w->errors_more);
        }
        berth_error_clear(&w->error);
        w->errors_more = 0;
        return code;
}

void dir_watch_test_overflow(struct dir_watch *w)
{
        pthread_mutex_lock(&w->mu);
        w->inject_overflow = true;
        pthread_mutex_unlock(&w->mu);
        wake(w);
}

static bool duration_ok(int64_t ms)
{
        return ms <= DIR_WATCH_DURATION_MAX_MS;
}

static char **strv_copy(const char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        char **c = calloc(n + 1, sizeof(*c));
        for (size_t i = 0; c && i < n; i++) {
                c[i] = strdup(v[i]);
                if (!c[i]) {
                        strv_free(c);
                        return NULL;
                }
        }
        return c;
}

int dir_watch_new_with_ops(const char *root, const struct dir_watch_opts *opts,
                           const struct dir_watch_ops *ops, dir_watch_fn fn, void *userdata,
                           struct dir_watch **ret, struct berth_error *err)
{
        const struct dir_watch_opts defaults = {
            .recursive = true,
            .debounce_ms = DIR_WATCH_DEFAULT_DEBOUNCE_MS,
            .rescan_ms = DIR_WATCH_DEFAULT_RESCAN_MS,
        };
        struct dir_watch *w;
        int r;

        if (!opts)
                opts = &defaults;
        if (!root || root[0] != '/' || !fn || !ret)
                return berth_error_set(err, -EINVAL, "watch %s: needs an absolute path",
                                       root ? root : "(null)");
        if (strlen(root) >= PATH_MAX)
                return berth_error_set(err, -ENAMETOOLONG, "watch %.64s...: path too long", root);
        if (opts->debounce_ms < 0 || !duration_ok(opts->debounce_ms) ||
            !duration_ok(opts->max_delay_ms) || !duration_ok(opts->rescan_ms))
                return berth_error_set(err, -EINVAL, "watch %s: durations must lie in 0..%lld ms",
                                       root, (long long)DIR_WATCH_DURATION_MAX_MS);

        w = calloc(1, sizeof(*w));
        if (!w)
                return berth_error_set(err, -ENOMEM, "watch %s: out of memory", root);
        w->ifd = w->wake_fd = w->root_wd = w->anc_wd = -1;
        w->reopen_at = -1;
        w->recursive = opts->recursive;
        w->fn = fn;
        w->userdata = userdata;
        w->ops = ops ? *ops : (struct dir_watch_ops){0};
        if (!w->ops.add_watch)
                w->ops.add_watch = real_add_watch;
        pthread_mutex_init(&w->mu, NULL);

        w->root = strdup(root);
        w->ignore = strv_copy(opts->ignore_dirs);
        w->buf = malloc(READ_BUF_SIZE);
        if (!w->root || !w->ignore || !w->buf) {
                r = berth_error_set(err, -ENOMEM, "watch %s: out of memory", root);
                goto fail;
        }
        /* "/srv/m/" and "/srv/m" are one directory; "/" stays. */
        for (size_t len = strlen(w->root); len > 1 && w->root[len - 1] == '/'; len--)
                w->root[len - 1] = '\0';
        w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->wake_fd < 0) {
                r = berth_error_set(err, -errno, "watch %s: eventfd: %s", root, strerror(errno));
                goto fail;
        }
        w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->ifd < 0) {
                r = berth_error_set(err, -errno,
                                    "watch %s: inotify: %s (fs.inotify.max_user_instances?)", root,
                                    strerror(errno));
                goto fail;
        }

        w->now = time_mono_ms();
        debounce_init(&w->d, opts->debounce_ms, opts->max_delay_ms, opts->rescan_ms, w->now);
        arm(w);
        if (!w->root_present)
                debounce_event(&w->d, w->now, DIR_WATCH_ROOT_GONE);
        publish(w);

        r = -pthread_create(&w->thread, NULL, watch_main, w);
        if (r < 0) {
                berth_error_set(err, r, "watch %s: start thread: %s", root, strerror(-r));
                goto fail;
        }
        w->thread_started = true;
        *ret = w;
        return 0;
fail:
        dir_watch_free(w);
        return r;
}

int dir_watch_new(const char *root, const struct dir_watch_opts *opts, dir_watch_fn fn,
                  void *userdata, struct dir_watch **ret, struct berth_error *err)
{
        return dir_watch_new_with_ops(root, opts, NULL, fn, userdata, ret, err);
}
