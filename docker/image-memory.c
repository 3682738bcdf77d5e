/* image-memory: a small set of image names, oldest dropped first. Names
 * are compared as written: "busybox" and "busybox:latest" are two entries,
 * each found present by its own inspect. A linear scan of at most
 * IMAGE_MEMORY_MAX short strings costs less than the call it saves by
 * three orders of magnitude. */
#include "image-memory.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct image_memory {
        pthread_mutex_t mu;
        char *names[IMAGE_MEMORY_MAX]; /* a ring: next is the oldest once full */
        size_t next;
};

struct image_memory *image_memory_new(void)
{
        struct image_memory *m = calloc(1, sizeof(*m));

        if (m)
                pthread_mutex_init(&m->mu, NULL);
        return m;
}

void image_memory_free(struct image_memory *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < IMAGE_MEMORY_MAX; i++)
                free(m->names[i]);
        pthread_mutex_destroy(&m->mu);
        free(m);
}

/* The slot holding image, or -1. Called with mu held. */
static int find_locked(const struct image_memory *m, const char *image)
{
        for (size_t i = 0; i < IMAGE_MEMORY_MAX; i++)
                if (m->names[i] && strcmp(m->names[i], image) == 0)
                        return (int)i;
        return -1;
}

bool image_memory_has(struct image_memory *m, const char *image)
{
        if (!m || !image)
                return false;
        pthread_mutex_lock(&m->mu);
        bool found = find_locked(m, image) >= 0;
        pthread_mutex_unlock(&m->mu);
        return found;
}

void image_memory_add(struct image_memory *m, const char *image)
{
        if (!m || !image || !image[0])
                return;
        pthread_mutex_lock(&m->mu);
        if (find_locked(m, image) < 0) {
                char *copy = strdup(image);
                if (copy) {
                        free(m->names[m->next]);
                        m->names[m->next] = copy;
                        m->next = (m->next + 1) % IMAGE_MEMORY_MAX;
                }
        }
        pthread_mutex_unlock(&m->mu);
}

void image_memory_forget(struct image_memory *m, const char *image)
{
        if (!m || !image)
                return;
        pthread_mutex_lock(&m->mu);
        int i = find_locked(m, image);
        if (i >= 0) {
                free(m->names[i]);
                m->names[i] = NULL;
        }
        pthread_mutex_unlock(&m->mu);
}
