/* apply: what apply.c (one object) and apply-batch.c (many) share. */
#pragma once

#include "apply.h"

/* opts' check of current (NULL: nothing stored yet), then its transform of
 * next against it: 0, or their error (a transform's prefixed with what). */
int apply_hooks(const struct apply_opts *opts, json_t *next, const json_t *current,
                const char *what, struct berth_error *err);
