/* image-memory: the images an engine was last seen to hold, so that a Task
 * whose image is known present skips the image inspect before its create
 * (one Engine API call of four per trivial Task). Internal to the docker
 * module; reached through docker_image_known and docker_image_forget.
 *
 * A hint, never the truth: an image removed behind berth's back stays
 * "known" until a create fails with 404 and the caller forgets it (then
 * inspects, and pulls when its policy says so). Bounded: past
 * IMAGE_MEMORY_MAX names the oldest is dropped. Thread-safe. */
#pragma once

#include <stdbool.h>

#define IMAGE_MEMORY_MAX 256

struct image_memory;

struct image_memory *image_memory_new(void);
void image_memory_free(struct image_memory *m); /* NULL ok */

/* Whether image (as the spec spells it) was remembered. NULL m: false. */
bool image_memory_has(struct image_memory *m, const char *image);
/* Remembers image; out of memory is ignored (the hint is lost, not the image). */
void image_memory_add(struct image_memory *m, const char *image);
void image_memory_forget(struct image_memory *m, const char *image);
