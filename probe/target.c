/* target.c: what a probe target may be, and how its address is written. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "probe-internal.h"

const char *probe_health_to_string(enum probe_health h)
{
        switch (h) {
        case PROBE_STARTING:
                return "Starting";
        case PROBE_HEALTHY:
                return "Healthy";
        case PROBE_UNHEALTHY:
                return "Unhealthy";
        }
        return "Unknown";
}

static bool in_range(int64_t v, int64_t lo, int64_t hi)
{
        return v >= lo && v <= hi;
}

/* The path goes into the request line verbatim: no spaces, controls or
 * bytes outside ASCII, which could split it or smuggle headers. */
static bool path_ok(const char *path, size_t size)
{
        if (!memchr(path, '\0', size) || path[0] != '/')
                return false;
        for (const char *c = path; *c; c++)
                if (*c <= ' ' || *c >= 0x7f)
                        return false;
        return true;
}

static int host_family(const char *host, size_t size)
{
        struct in6_addr a;

        if (!memchr(host, '\0', size))
                return -1;
        if (inet_pton(AF_INET, host, &a) == 1)
                return AF_INET;
        if (inet_pton(AF_INET6, host, &a) == 1)
                return AF_INET6;
        return -1;
}

int probe_target_check(const struct probe_target *t)
{
        if (!t || (t->type != PROBE_TCP && t->type != PROBE_HTTP))
                return -EINVAL;
        if (host_family(t->host, sizeof(t->host)) < 0 || !in_range(t->port, 1, 65535))
                return -EINVAL;
        if (t->type == PROBE_HTTP && !path_ok(t->path, sizeof(t->path)))
                return -EINVAL;
        if (!in_range(t->interval_ms, 1, PROBE_PERIOD_MAX_MS) ||
            !in_range(t->timeout_ms, 1, PROBE_PERIOD_MAX_MS) ||
            !in_range(t->start_period_ms, 0, PROBE_PERIOD_MAX_MS) ||
            !in_range(t->failure_threshold, 1, 1000))
                return -EINVAL;
        return 0;
}

void probe_target_copy(struct probe_target *dst, const struct probe_target *t)
{
        *dst = (struct probe_target){
            .type = t->type,
            .port = t->port,
            .interval_ms = t->interval_ms,
            .timeout_ms = t->timeout_ms,
            .start_period_ms = t->start_period_ms,
            .failure_threshold = t->failure_threshold,
        };
        (void)str_copy(dst->host, sizeof(dst->host), t->host);
        if (t->type == PROBE_HTTP)
                (void)str_copy(dst->path, sizeof(dst->path), t->path);
}

bool probe_target_equal(const struct probe_target *a, const struct probe_target *b)
{
        return a->type == b->type && streq(a->host, b->host) && a->port == b->port &&
               (a->type != PROBE_HTTP || streq(a->path, b->path)) &&
               a->interval_ms == b->interval_ms && a->timeout_ms == b->timeout_ms &&
               a->start_period_ms == b->start_period_ms &&
               a->failure_threshold == b->failure_threshold;
}

void probe_target_sockaddr(const struct probe_target *t, struct sockaddr_storage *ret,
                           socklen_t *ret_len)
{
        memset(ret, 0, sizeof(*ret));
        if (host_family(t->host, sizeof(t->host)) == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *)ret;

                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t)t->port);
                inet_pton(AF_INET, t->host, &in->sin_addr);
                *ret_len = sizeof(*in);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)t->port);
                inet_pton(AF_INET6, t->host, &in6->sin6_addr);
                *ret_len = sizeof(*in6);
        }
}

void probe_address_format(const char *host, int port, char *out, size_t size)
{
        /* Truncation only when size < PROBE_ADDRESS_MAX, which callers avoid. */
        if (strchr(host, ':'))
                (void)snprintf(out, size, "[%s]:%d", host, port);
        else
                (void)snprintf(out, size, "%s:%d", host, port);
}
