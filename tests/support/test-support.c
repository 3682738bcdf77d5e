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

int change_watch_init(struct change_watch *w)
{
        memset(w, 0, sizeof(*w));
        int r = pthread_mutex_init(&w->lock, NULL);
        if (r != 0)
                return -r;
        return cond_init_monotonic(&w->cond);
}

void change_watch_destroy(struct change_watch *w)
{
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
}

void change_watch_fn(const char *owner_key, void *userdata)
{
        struct change_watch *w = userdata;

        pthread_mutex_lock(&w->lock);
        w->changes++;
        (void)str_copy(w->owner, sizeof(w->owner), owner_key);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

int change_watch_count(struct change_watch *w)
{
        LOCK_SCOPE(&w->lock);

        return w->changes;
}

void change_watch_owner(struct change_watch *w, char *out, size_t size)
{
        LOCK_SCOPE(&w->lock);

        (void)str_copy(out, size, w->owner);
}

int change_watch_wait(struct change_watch *w, int n, int timeout_ms)
{
        struct timespec deadline;
        int seen;

        pthread_mutex_lock(&w->lock);
        time_mono_deadline(&deadline, timeout_ms);
        while (w->changes < n)
                if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT)
                        break;
        seen = w->changes;
        pthread_mutex_unlock(&w->lock);
        return seen;
}
