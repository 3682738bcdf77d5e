/* docker: one sample of a container's resource use (GET
 * /containers/{id}/stats) and the numbers `docker stats` derives from it.
 *
 * Why stream=false without one-shot: with one-shot=true Docker answers at
 * once but leaves precpu_stats empty, so a CPU share would need a second
 * call and our own timing; without it Docker waits for its next collection
 * cycle (about 1 s) and fills both, which gives the share from one call.
 * Nothing is held open between calls.
 */
#include <strings.h>

#include "docker-internal.h"

#define DOCKER_CONTEXT_MAX 512

/* A counter: a non-negative integer, else 0. Docker sends uint64 values;
 * jansson reads those above INT64_MAX as reals, which no counter reaches. */
static uint64_t counter(const json_t *root, const char *dotted)
{
        const json_t *v = json_path(root, dotted);

        if (json_is_integer(v) && json_integer_value(v) > 0)
                return (uint64_t)json_integer_value(v);
        if (json_is_real(v) && json_real_value(v) > 0)
                return (uint64_t)json_real_value(v);
        return 0;
}

/* cgroup v1 reports the inactive file cache of the whole hierarchy as
 * total_inactive_file; v2 has only inactive_file. */
static uint64_t memory_used(const json_t *raw)
{
        uint64_t usage = counter(raw, "memory_stats.usage");
        const json_t *stats = json_path(raw, "memory_stats.stats");
        uint64_t inactive = json_object_get(stats, "total_inactive_file")
                                ? counter(stats, "total_inactive_file")
                                : counter(stats, "inactive_file");

        return inactive < usage ? usage - inactive : usage;
}

static void cpu_share(const json_t *raw, struct docker_stats *s)
{
        uint64_t cpu = counter(raw, "cpu_stats.cpu_usage.total_usage");
        uint64_t precpu = counter(raw, "precpu_stats.cpu_usage.total_usage");
        uint64_t system = counter(raw, "cpu_stats.system_cpu_usage");
        uint64_t presystem = counter(raw, "precpu_stats.system_cpu_usage");
        uint64_t cpus = counter(raw, "cpu_stats.online_cpus");

        if (cpus == 0) /* daemons before API 1.27 */
                cpus = json_array_size(json_path(raw, "cpu_stats.cpu_usage.percpu_usage"));
        if (presystem == 0 || system <= presystem || cpus == 0)
                return;
        s->cpu_known = true;
        if (cpu > precpu)
                s->cpu_percent =
                    (double)(cpu - precpu) / (double)(system - presystem) * (double)cpus * 100.0;
}

int docker_stats_parse(const json_t *raw, struct docker_stats *ret)
{
        struct docker_stats s = {0};

        if (!json_is_object(raw))
                return -EPROTO;
        const char *read = json_string_value(json_object_get(raw, "read"));
        if (read)
                snprintf(s.read, sizeof(s.read), "%s", read);
        cpu_share(raw, &s);
        s.memory_usage = memory_used(raw);
        s.memory_limit = counter(raw, "memory_stats.limit");
        s.pids = counter(raw, "pids_stats.current");

        const json_t *nets = json_object_get(raw, "networks");
        const char *name;
        const json_t *net;
        s.network_known = json_is_object(nets) && json_object_size(nets) > 0;
        json_object_foreach((json_t *)nets, name, net)
        {
                s.net_rx_bytes += counter(net, "rx_bytes");
                s.net_tx_bytes += counter(net, "tx_bytes");
        }

        size_t i;
        const json_t *e;
        json_array_foreach(json_path(raw, "blkio_stats.io_service_bytes_recursive"), i, e)
        {
                const char *op = json_string_value(json_object_get(e, "op"));
                if (op && strcasecmp(op, "read") == 0)
                        s.block_read_bytes += counter(e, "value");
                else if (op && strcasecmp(op, "write") == 0)
                        s.block_write_bytes += counter(e, "value");
        }
        *ret = s;
        return 0;
}

int docker_container_stats(struct docker *d, const char *id, struct docker_stats *ret,
                           struct berth_error *err)
{
        char ctx[DOCKER_CONTEXT_MAX];
        _cleanup_free_ char *e = NULL, *path = NULL;
        _cleanup_json_ json_t *raw = NULL;

        snprintf(ctx, sizeof(ctx), "stats of container %s", id ? id : "");
        if (!id || !id[0])
                return berth_error_set(err, -EINVAL, "%s: no id", ctx);
        e = docker_escape(id);
        path = e ? str_printf("/containers/%s/stats", e) : NULL;
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = docker_get_json(d, path, "stream=false", &raw, ctx, err);
        if (r < 0)
                return r;
        r = docker_stats_parse(raw, ret);
        if (r < 0)
                return berth_error_set(err, r, "%s: not a stats object", ctx);
        return 0;
}
