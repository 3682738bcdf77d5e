/* volume.c: secret volumes — the tmpfs on the host and the files written
 * into it (secrets.h). Paths below the root are walked with *at() calls
 * that never follow a symbolic link, so nothing placed there can send a
 * write or a removal elsewhere. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "secrets-internal.h"

#define REL_MAX 512 /* characters of a rel path */

bool secrets_dir_is_tmpfs(const char *dir)
{
        struct statfs sf;

        return dir && statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

int secrets_dir_prepare(const char *dir, bool *ret_mounted, struct berth_error *err)
{
        bool mounted = false;
        int r;

        if (!dir || dir[0] != '/')
                return berth_error_set(err, -EINVAL, "secrets directory %s: not an absolute path",
                                       dir ? dir : "(none)");
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return berth_error_set(err, r, "secrets directory %s: %s", dir, strerror(-r));
        if (!secrets_dir_is_tmpfs(dir)) {
                if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "mode=0700,size=" SECRETS_DIR_TMPFS_SIZE) < 0)
                        return berth_error_set(err, -errno,
                                               "secrets directory %s is not a tmpfs and mounting "
                                               "one there failed: %s",
                                               dir, strerror(errno));
                if (!secrets_dir_is_tmpfs(dir))
                        return berth_error_set(err, -EIO,
                                               "secrets directory %s: not a tmpfs after mounting "
                                               "one",
                                               dir);
                mounted = true;
        }
        /* Only berthd may walk it: what is below is for containers' mounts.
         * A directory others share (/dev/shm itself) is refused, not
         * changed under them. */
        struct stat st;
        if (stat(dir, &st) < 0)
                return berth_error_set(err, -errno, "secrets directory %s: %s", dir,
                                       strerror(errno));
        if ((st.st_mode & 07077) != 0 || st.st_uid != geteuid())
                return berth_error_set(err, -EPERM,
                                       "secrets directory %s: mode %04o and owner uid %u, want "
                                       "0700 and berthd's uid %u: use a directory of its own",
                                       dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
                                       (unsigned)geteuid());
        if (ret_mounted)
                *ret_mounted = mounted;
        return 0;
}

static bool segment_valid(const char *s, size_t len)
{
        if (len == 0 || len > 255 || (len == 1 && s[0] == '.') ||
            (len == 2 && s[0] == '.' && s[1] == '.'))
                return false;
        for (size_t i = 0; i < len; i++) {
                char ch = s[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
                        return false;
        }
        return true;
}

static bool rel_valid(const char *rel)
{
        if (!rel || !*rel || strlen(rel) > REL_MAX)
                return false;
        for (const char *p = rel;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t)(slash - p) : strlen(p);
                if (!segment_valid(p, len))
                        return false;
                if (!slash)
                        return true;
                p = slash + 1;
        }
}

/* Opens (with create, making missing directories with mode) the directory
 * rel below root, or only its parent with parent_only (its last segment
 * into *ret_last, borrowed from rel). Never follows a symbolic link. */
static int open_rel(const char *root, const char *rel, bool create, mode_t mode, bool parent_only,
                    const char **ret_last)
{
        _cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char seg[256];

        if (fd < 0)
                return -errno;
        for (const char *p = rel;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t)(slash - p) : strlen(p);

                if (!slash && parent_only) {
                        *ret_last = p;
                        return TAKE_FD(fd);
                }
                memcpy(seg, p, len);
                seg[len] = '\0';
                if (create && mkdirat(fd, seg, mode) < 0 && errno != EEXIST)
                        return -errno;
                int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                close(fd);
                fd = next;
                if (!slash)
                        return TAKE_FD(fd);
                p = slash + 1;
        }
}

/* Removes name in parent and, for a directory, everything below it. */
static int remove_at(int parent, const char *name, int depth)
{
        if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        if (depth > 16)
                return -ELOOP;
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        (void)fchmod(fd, 0700); /* a volume is 0555: without root, entries stay otherwise */
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        int r = 0;
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                r = remove_at(dirfd(d), e->d_name, depth + 1);
        }
        closedir(d);
        if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

int secrets_volume_remove(const char *root, const char *rel, struct berth_error *err)
{
        const char *last = NULL;
        int r;

        if (!rel_valid(rel))
                return berth_error_set(err, -EINVAL, "secret volume %s: invalid path",
                                       rel ? rel : "");
        _cleanup_close_ int fd = open_rel(root, rel, false, 0, true, &last);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return berth_error_set(err, fd, "secret volume %s/%s: %s", root, rel,
                                       strerror(-fd));
        r = remove_at(fd, last, 0);
        if (r < 0)
                return berth_error_set(err, r, "remove secret volume %s/%s: %s", root, rel,
                                       strerror(-r));
        return 0;
}

int secrets_volume_list(const char *root, const char *rel, char ***ret, struct berth_error *err)
{
        _cleanup_strv_ char **names = calloc(1, sizeof(char *));
        size_t n = 0;

        if (!names)
                return berth_error_set(err, -ENOMEM, "out of memory");
        if (!rel_valid(rel))
                return berth_error_set(err, -EINVAL, "secret volume %s: invalid path",
                                       rel ? rel : "");
        int fd = open_rel(root, rel, false, 0, false, NULL);
        if (fd == -ENOENT) {
                *ret = TAKE_PTR(names);
                return 0;
        }
        if (fd < 0)
                return berth_error_set(err, fd, "%s/%s: %s", root, rel, strerror(-fd));
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return berth_error_set(err, r, "%s/%s: %s", root, rel, strerror(-r));
        }
        for (struct dirent *e; (e = readdir(d));) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                char **more = realloc(names, (n + 2) * sizeof(char *));
                if (more)
                        names = more;
                char *copy = more ? strdup(e->d_name) : NULL;
                if (!copy) {
                        closedir(d);
                        return berth_error_set(err, -ENOMEM, "out of memory");
                }
                names[n++] = copy;
                names[n] = NULL;
        }
        closedir(d);
        *ret = TAKE_PTR(names);
        return 0;
}

struct write_state {
        int dirfd;
        uid_t uid;
        gid_t gid;
};

static int write_one(const char *key, const unsigned char *data, size_t len, void *userdata)
{
        struct write_state *w = userdata;
        _cleanup_close_ int fd = -1;

        if (!secret_key_is_valid(key))
                return -EINVAL;
        fd = openat(w->dirfd, key, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0)
                return -errno;
        if (fchown(fd, w->uid, w->gid) < 0 && errno != EPERM)
                return -errno;
        if (fchmod(fd, 0400) < 0)
                return -errno;
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (size_t)n;
        }
        return 0;
}

int secrets_volume_write(const char *root, const char *rel, const struct secrets_keyring *ring,
                         const json_t *secret, uid_t uid, gid_t gid, struct berth_error *err)
{
        const char *last = NULL;
        int r;

        if (!rel_valid(rel))
                return berth_error_set(err, -EINVAL, "secret volume %s: invalid path",
                                       rel ? rel : "");
        _cleanup_close_ int parent = open_rel(root, rel, true, 0700, true, &last);
        if (parent < 0)
                return berth_error_set(err, parent, "secret volume %s/%s: %s", root, rel,
                                       strerror(-parent));
        /* Afresh: a key the Secret no longer has must not stay behind. */
        r = remove_at(parent, last, 0);
        if (r < 0)
                return berth_error_set(err, r, "secret volume %s/%s: %s", root, rel, strerror(-r));
        if (mkdirat(parent, last, 0700) < 0)
                return berth_error_set(err, -errno, "secret volume %s/%s: %s", root, rel,
                                       strerror(errno));
        _cleanup_close_ int fd =
            openat(parent, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, -errno, "secret volume %s/%s: %s", root, rel,
                                       strerror(errno));
        struct write_state w = {.dirfd = fd, .uid = uid, .gid = gid};
        struct berth_error e = {0};
        r = secret_foreach(ring, secret, write_one, &w, &e);
        if (r < 0) {
                (void)remove_at(parent, last, 0);
                if (e.message[0])
                        return berth_error_set(err, r, "%s", e.message);
                return berth_error_set(err, r, "secret volume %s/%s: %s", root, rel, strerror(-r));
        }
        /* Listed and entered by the container's user, whoever that is; the
         * files themselves are its user's only. */
        if (fchmod(fd, 0555) < 0)
                return berth_error_set(err, -errno, "secret volume %s/%s: %s", root, rel,
                                       strerror(errno));
        return 0;
}
