/* cli: the berth command line (kubectl-like). */
#pragma once

#include <stdio.h>

/* Runs `berth <args>`; returns the process exit status (0 ok, 1 failure or
 * timeout, 2 usage error). */
int cli_main(int argc, char **argv);

/* Same, writing to out and err instead of stdout and stderr (tests capture
 * them). Colour is used only when out is a terminal and NO_COLOR is unset. */
int cli_run(int argc, char **argv, FILE *out, FILE *err);
