#include "test-support.h"

#include <dirent.h>
#include <sys/stat.h>

#include "common.h"

int test_rm_tree(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = str_printf("%s/%s", dir, de->d_name);
                struct stat st;
                if (!p)
                        continue;
                if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                        test_rm_tree(p);
                else
                        unlink(p);
        }
        closedir(d);
        return rmdir(dir) < 0 ? -errno : 0;
}
