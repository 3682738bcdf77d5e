/* Sample values for the store tests: a Workflow object shaped like what berth
 * stores (repetitive JSON), and bytes that do not compress. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Appends to out (cap bytes, *len used); aborts when it does not fit. */
static inline void sample_append(char *out, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void sample_append(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(out + *len, cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= cap - *len)
                abort();
        *len += (size_t)n;
}

/* A finished Workflow of 'steps' steps in chains of ten, spec and status, about
 * 470 bytes a step (300 steps: about 140 KB). NUL-terminated; *ret_len its
 * length. Caller frees. */
static inline char *sample_workflow_json(int steps, size_t *ret_len)
{
        size_t cap = 1024 + (size_t)steps * 600, len = 0;
        char *out = malloc(cap);
        if (!out)
                abort();
        sample_append(out, cap, &len,
                      "{\"apiVersion\":\"berth/v1\",\"kind\":\"Workflow\",\"metadata\":"
                      "{\"name\":\"big\",\"namespace\":\"default\",\"uid\":"
                      "\"2fb95058ac640bcffb4b81ddc94aed70\",\"generation\":1},"
                      "\"spec\":{\"parallelism\":16,\"steps\":[");
        for (int i = 0; i < steps; i++) {
                int c = i / 10 + 1, s = i % 10 + 1;
                char depends[64] = "";
                if (s > 1)
                        snprintf(depends, sizeof(depends), "\"dependsOn\":[\"c%d-s%d\"],", c,
                                 s - 1);
                sample_append(out, cap, &len,
                              "%s{\"name\":\"c%d-s%d\",%s\"task\":{\"image\":\"busybox:latest\","
                              "\"network\":\"none\",\"command\":[\"sh\",\"-c\",\"echo %d.%d\"],"
                              "\"imagePullPolicy\":\"IfNotPresent\",\"restartPolicy\":\"Never\","
                              "\"backoffLimit\":6,\"backoff\":{\"initialSeconds\":10,\"factor\":2,"
                              "\"maxSeconds\":300}}}",
                              i ? "," : "", c, s, depends, c, s);
        }
        sample_append(out, cap, &len,
                      "]},\"status\":{\"phase\":\"Succeeded\",\"progress\":\"%d/%d\",\"steps\":[",
                      steps, steps);
        for (int i = 0; i < steps; i++) {
                int c = i / 10 + 1, s = i % 10 + 1;
                int t = 53 + i * 7 / 3;
                sample_append(out, cap, &len,
                              "%s{\"name\":\"c%d-s%d\",\"phase\":\"Succeeded\",\"task\":"
                              "\"big-c%d-s%d\",\"startTime\":\"2026-12-07T02:%02d:%02dZ\","
                              "\"finishTime\":\"2026-12-07T02:%02d:%02dZ\",\"exitCode\":0,"
                              "\"result\":\"/berth/workflows-data/default/big/step-c%d-s%d\"}",
                              i ? "," : "", c, s, c, s, 44 + t / 60 % 15, t % 60,
                              44 + (t + 2) / 60 % 15, (t + 2) % 60, c, s);
        }
        sample_append(out, cap, &len, "]}}");
        *ret_len = len;
        return out;
}

/* len random bytes (they do not compress). Caller frees. */
static inline char *sample_random_bytes(size_t len)
{
        char *out = malloc(len ? len : 1);
        if (!out)
                abort();
        for (size_t done = 0; done < len;) {
                ssize_t n = getrandom(out + done, len - done, 0);
                if (n <= 0)
                        abort();
                done += (size_t)n;
        }
        return out;
}
