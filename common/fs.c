/* common: directories and unix socket paths. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "common.h"

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        struct stat st;

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        if (stat(p, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int unix_socket_clear_stale(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;

        if (str_copy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
                return -ENAMETOOLONG;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return -EADDRINUSE;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 1;
}

int dir_resolve_within(const char *path, const char *const *roots, size_t n_roots, char **ret)
{
        _cleanup_free_ char *real = realpath(path, NULL);
        struct stat st;

        if (!real)
                return -errno;
        if (stat(real, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        for (size_t i = 0; i < n_roots; i++) {
                _cleanup_free_ char *root = realpath(roots[i], NULL);
                size_t n = root ? strlen(root) : 0;

                if (!root)
                        continue;
                if (n == 1 ||
                    (strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/'))) {
                        *ret = TAKE_PTR(real);
                        return 0;
                }
        }
        return -EPERM;
}
