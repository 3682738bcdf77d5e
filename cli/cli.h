/* cli: the berth command line (kubectl-like). */
#pragma once

/* Runs `berth <args>`; returns the process exit status (0 ok, 1 failure or
 * timeout, 2 usage error). */
int cli_main(int argc, char **argv);
