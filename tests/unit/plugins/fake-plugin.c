/* A tiny plugin for the loader's tests, shaped by compile definitions:
 * FAKE_NAME, FAKE_MAJOR, FAKE_MINOR, FAKE_TYPE, FAKE_INIT (init's result),
 * FAKE_NO_SYMBOL (exports no descriptor). */
#include <string.h>

#include "berth-plugin.h"

static int fake_init(const struct berth_host *host, void **ctx)
{
        *ctx = (void *)host;
        return FAKE_INIT;
}

static int fake_deliver(void *ctx, const char *ns, const char *name, const char *outcome,
                        const char *event_json, size_t event_json_len, const char *config_json,
                        char *error, size_t error_size)
{
        (void)ctx, (void)ns, (void)name, (void)event_json, (void)event_json_len;
        (void)config_json;
        if (strcmp(outcome, "Failed") == 0)
                return 0;
        strncpy(error, "only Failed", error_size - 1);
        return 1;
}

static const struct berth_notifier_ops fake_ops = {.deliver = fake_deliver};

static const struct berth_plugin fake = {
    .abi_major = FAKE_MAJOR,
    .abi_minor = FAKE_MINOR,
    .name = FAKE_NAME,
    .type = FAKE_TYPE,
    .init = fake_init,
    .notifier = &fake_ops,
};

#ifndef FAKE_NO_SYMBOL
const struct berth_plugin *berth_plugin_descriptor(void);
const struct berth_plugin *berth_plugin_descriptor(void)
{
        return &fake;
}
#else
const struct berth_plugin *other_symbol(void);
const struct berth_plugin *other_symbol(void)
{
        return &fake;
}
#endif
