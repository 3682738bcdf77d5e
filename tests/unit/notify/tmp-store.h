/* What the notify tests share: a SQLite store in a temporary directory of
 * its own. Include after cmocka.h. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "store.h"
#include "test-support.h"

/* Opens "sqlite:<dir>/store.db" in a new /tmp/berth-<name>-XXXXXX (into
 * dir); fails the test when it cannot. */
static inline void tmp_store_open(const char *name, char dir[64], struct store **ret)
{
        struct berth_error err = {0};
        char url[128];

        snprintf(dir, 64, "/tmp/berth-%s-XXXXXX", name);
        assert_non_null(mkdtemp(dir));
        snprintf(url, sizeof(url), "sqlite:%s/store.db", dir);
        assert_int_equal(store_open(url, ret, &err), 0);
}

/* Closes it and removes the directory. */
static inline void tmp_store_close(const char *dir, struct store *s)
{
        store_free(s);
        test_rm_tree(dir);
}
