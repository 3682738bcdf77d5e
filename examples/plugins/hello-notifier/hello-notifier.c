/* hello-notifier: a berth notifier plugin that appends each event it is
 * given, one JSON line each, to a file — the path in the Notifier's
 * spec.hello-notifier.file, else in the environment variable
 * HELLO_NOTIFIER_FILE of berthd. Built out of tree with only the public
 * header (see CMakeLists.txt); docs/plugins.md explains the ABI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth-plugin.h"

struct hello {
        const struct berth_host *host;
        char *default_file; /* HELLO_NOTIFIER_FILE at load, or NULL */
};

/* The string value of "file" in a flat JSON object (the Notifier's
 * settings); a real plugin would use a JSON parser. */
static int config_file(const char *config, char *out, size_t size)
{
        const char *p = strstr(config, "\"file\"");
        if (!p || !(p = strchr(p + 6, '"')))
                return -1;
        const char *end = strchr(++p, '"');
        if (!end || (size_t)(end - p) >= size)
                return -1;
        memcpy(out, p, (size_t)(end - p));
        out[end - p] = '\0';
        return 0;
}

static int hello_init(const struct berth_host *host, void **ctx)
{
        struct hello *h = calloc(1, sizeof(*h));
        const char *f = getenv("HELLO_NOTIFIER_FILE");

        if (!h)
                return -1;
        h->host = host;
        h->default_file = f ? strdup(f) : NULL;
        host->log(host, BERTH_PLUGIN_LOG_INFO, "hello-notifier ready");
        *ctx = h;
        return 0;
}

static void hello_fini(void *ctx)
{
        struct hello *h = ctx;

        free(h->default_file);
        free(h);
}

static int hello_deliver(void *ctx, const char *ns, const char *name, const char *outcome,
                         const char *event_json, size_t event_json_len, const char *config_json,
                         char *error, size_t error_size)
{
        struct hello *h = ctx;
        char path[4096];
        const char *file = h->default_file;

        if (config_file(config_json, path, sizeof(path)) == 0)
                file = path;
        if (!file) {
                snprintf(error, error_size,
                         "no file: set spec.hello-notifier.file or "
                         "HELLO_NOTIFIER_FILE");
                return -1;
        }
        FILE *f = fopen(file, "ae");
        if (!f) {
                snprintf(error, error_size, "open %s failed", file);
                return -1;
        }
        fprintf(f, "%s/%s %s ", ns, name, outcome);
        fwrite(event_json, 1, event_json_len, f);
        fputc('\n', f);
        if (fclose(f) != 0) {
                snprintf(error, error_size, "write %s failed", file);
                return -1;
        }
        return 0;
}

static const struct berth_notifier_ops hello_ops = {.deliver = hello_deliver};

static const struct berth_plugin hello_plugin = {
    .abi_major = BERTH_PLUGIN_ABI_MAJOR,
    .abi_minor = BERTH_PLUGIN_ABI_MINOR,
    .name = "hello-notifier",
    .type = BERTH_PLUGIN_NOTIFIER,
    .init = hello_init,
    .fini = hello_fini,
    .notifier = &hello_ops,
};

const struct berth_plugin *berth_plugin_descriptor(void);
const struct berth_plugin *berth_plugin_descriptor(void)
{
        return &hello_plugin;
}
