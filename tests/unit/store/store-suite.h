/* What the store suites share (conformance.c, test_compress.c): the store
 * under test — $BERTH_STORE_URL, or a temporary SQLite database — opened once
 * per group, and unique key prefixes so that tests never see each other's
 * keys (an etcd run shares one cluster). With $BERTH_STORE_PLUGIN_DIR, the
 * plugins of that directory are loaded first, as berthd does, so the URL may
 * name a store plugin ("memstore:"). Include once per test program. */
#pragma once

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/random.h>

#include "plugins.h"
#include "store.h"
#include "test-support.h"

struct suite {
        struct plugins *plugins; /* $BERTH_STORE_PLUGIN_DIR's */
        struct store *store;
        char *url;
        char tmpdir[PATH_MAX]; /* "" unless we made a temporary sqlite database */
};

static struct suite suite;

/* "/t/<group>/<test>/<random>/": fresh keys for one test. */
static inline char *suite_prefix(const char *group, const char *test)
{
        uint64_t r = 0;
        assert_int_equal(getrandom(&r, sizeof(r), 0), sizeof(r));
        char *p = str_printf("/t/%s%s%s/%016" PRIx64 "/", group, *group ? "/" : "", test, r);
        assert_non_null(p);
        return p;
}

static inline char *key_in(const char *prefix, const char *name)
{
        char *k = str_printf("%s%s", prefix, name);
        assert_non_null(k);
        return k;
}

static inline void suite_plugin_refused(const char *path, const char *why, void *userdata)
{
        (void)userdata;
        print_error("plugin %s refused: %s\n", path, why);
}

static inline int group_setup(void **state)
{
        (void)state;
        struct berth_error err = {0};
        const char *dir = getenv("BERTH_STORE_PLUGIN_DIR");
        if (dir && *dir &&
            plugins_load(dir, suite_plugin_refused, NULL, NULL, &suite.plugins, &err) < 0) {
                print_error("plugins %s: %s\n", dir, err.message);
                return -1;
        }
        const char *env = getenv("BERTH_STORE_URL");
        if (env && *env) {
                suite.url = strdup(env);
        } else {
                const char *tmp = getenv("TMPDIR");
                snprintf(suite.tmpdir, sizeof(suite.tmpdir), "%s/berth-store-XXXXXX",
                         tmp && *tmp ? tmp : "/tmp");
                if (!mkdtemp(suite.tmpdir))
                        return -1;
                suite.url = str_printf("sqlite:%s/db/store.db", suite.tmpdir);
        }
        if (!suite.url)
                return -1;
        if (store_open(suite.url, &suite.store, &err) < 0) {
                print_error("store_open %s: %s\n", suite.url, err.message);
                return -1;
        }
        return 0;
}

static inline int group_teardown(void **state)
{
        (void)state;
        store_free(suite.store);
        suite.store = NULL;
        /* After the store, which may be one of theirs. */
        plugins_free(suite.plugins);
        suite.plugins = NULL;
        if (suite.tmpdir[0])
                test_rm_tree(suite.tmpdir);
        free(suite.url);
        return 0;
}
