/* test-support: small helpers shared by the test programs (never linked into
 * berth itself). */
#pragma once

/* Removes dir and everything below it (does not follow symlinks). 0 or -errno
 * of the final rmdir. */
int test_rm_tree(const char *dir);

#include <pthread.h>

/* Records a change callback keyed by owner (the prober's, the builder's):
 * how many times it ran and the last owner key, for a test to wait on. */
#define CHANGE_WATCH_OWNER_MAX 512
struct change_watch {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int changes;
        char owner[CHANGE_WATCH_OWNER_MAX + 1];
};

/* 0, or -errno. */
int change_watch_init(struct change_watch *w);
void change_watch_destroy(struct change_watch *w);
/* The callback: userdata is the struct change_watch. */
void change_watch_fn(const char *owner_key, void *userdata);
int change_watch_count(struct change_watch *w);
/* The last owner key into out. */
void change_watch_owner(struct change_watch *w, char *out, size_t size);
/* Waits until the callback ran at least n times in all, at most timeout_ms
 * (monotonic); returns how many times it ran. */
int change_watch_wait(struct change_watch *w, int n, int timeout_ms);
