/* pki internals, for tests: pki_ensure with an injected clock. */
#pragma once

#include <time.h>

#include "pki.h"

/* pki_ensure as if the time were now: what "ends within PKI_RENEW_DAYS" and
 * "expired" are measured against, and the start of what it issues. */
int pki_ensure_at(const char *dir, const char *const *extra_sans, size_t n, time_t now,
                  struct berth_error *err);
