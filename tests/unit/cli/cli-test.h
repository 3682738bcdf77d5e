/* Helpers shared by the CLI tests. */
#pragma once

#include <stdio.h>

/* What one `berth` run printed and returned. */
struct capture {
        char *out;
        char *err;
        int rc;
};

/* Frees what c captured; c may be reused. */
void capture_release(struct capture *c);
/* Runs cli_run() with "berth" and the NULL-terminated arguments after c
 * (at most 62), capturing stdout, stderr and the exit status in c. */
void run(struct capture *c, ...);
