/* probe-internal: the pure pieces of the prober (target checks, the HTTP
 * request and status line) and seams for its tests. Not part of the public
 * contract; nothing outside probe/ and its tests may include it. */
#pragma once

#include <sys/socket.h>

#include "probe.h"

/* ---- targets (target.c) ------------------------------------------------ */

/* 0 when t is a target prober_set accepts, else -EINVAL. */
int probe_target_check(const struct probe_target *t);
/* Whether a and b (both checked) probe the same way. */
bool probe_target_equal(const struct probe_target *a, const struct probe_target *b);
/* A copy of t (checked) with every byte after the strings' NULs zeroed. */
void probe_target_copy(struct probe_target *dst, const struct probe_target *t);
/* t's address as a sockaddr (t checked); its length in *ret_len. */
void probe_target_sockaddr(const struct probe_target *t, struct sockaddr_storage *ret,
                           socklen_t *ret_len);

/* "host:port" as messages and the Host header write it: "127.0.0.1:8080",
 * "[::1]:8080". Always fits with size >= PROBE_ADDRESS_MAX. */
#define PROBE_ADDRESS_MAX (64 + 2 + 1 + 5 + 1)
void probe_address_format(const char *host, int port, char *out, size_t size);

/* ---- HTTP (http.c) ----------------------------------------------------- */

/* Room for any request of a checked target. */
#define PROBE_REQUEST_MAX 512

/* Writes the GET request for t (checked, PROBE_HTTP) into out; its length, or
 * -ENAMETOOLONG when it does not fit size. */
int probe_http_request(const struct probe_target *t, char *out, size_t size);

/* Reads the status line at the start of data[0..len), the bytes received so
 * far (eof: the peer closed; no more will come); bytes past PROBE_RESPONSE_MAX
 * are ignored, so the line must end within them. Returns 1 with the status in
 * *ret_status (100..599), 0 when more bytes are needed, or -EBADMSG with the
 * reason in msg (a closed connection, a line past PROBE_RESPONSE_MAX, a line
 * that is not "HTTP/<d>.<d> <ddd>[ <reason>]"; bytes that cannot be shown are
 * written as '?'). */
int probe_http_status_parse(const char *data, size_t len, bool eof, int *ret_status, char *msg,
                            size_t msg_size);

/* ---- test seams -------------------------------------------------------- */

/* prober_new() with another cap on the number of targets (1..PROBE_TARGETS_MAX),
 * so that tests reach it cheaply. */
int prober_new_with_max_targets(int max_in_flight, size_t max_targets, probe_change_fn fn,
                                void *userdata, struct prober **ret, struct berth_error *err);
