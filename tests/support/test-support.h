/* test-support: small helpers shared by the test programs (never linked into
 * berth itself). */
#pragma once

/* Removes dir and everything below it (does not follow symlinks). 0 or -errno
 * of the final rmdir. */
int test_rm_tree(const char *dir);
