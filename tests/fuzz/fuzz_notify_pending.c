/* Fuzz target for the deliveries handed over at a stop (notify/pending.c):
 * a value and a key read back from the store, whose bytes are not to be
 * trusted (a corrupt database, another program writing under the prefix).
 * Each input is taken as a value and as a key. Besides memory errors, leaks
 * and UB it aborts when
 *   - a decode fails without a reason, or changes its output on failure;
 *   - a value that decodes has a body that is no JSON object or is too
 *     large (it would be queued and never sent), does not encode, or does
 *     not decode again to the same delivery, body bytes included (what the
 *     next start would send);
 *   - a key that parses is not a key of notify-data/pending/. */
#include <stdint.h>
#include <stdlib.h>

#include "notify-internal.h"

#define PREFIX "/berth/"

static void value_checked(const char *data, size_t len)
{
        struct pending_delivery p = {.in_flight = true}, again = {0};
        char why[128] = "";

        if (pending_value_decode(data, len, &p, why) < 0) {
                if (!why[0] || p.d || !p.in_flight)
                        abort();
                return;
        }
        json_t *body = json_loadb(p.d->body, p.d->len, 0, NULL);
        if (!json_is_object(body) || p.d->len > NOTIFY_PAYLOAD_MAX)
                abort();
        json_decref(body);
        (void)str_copy(p.ns, sizeof(p.ns), "default");
        (void)str_copy(p.name, sizeof(p.name), "n");
        char *s = pending_value_encode(&p);
        if (!s || pending_value_decode(s, strlen(s), &again, why) < 0 || !streq(again.uid, p.uid) ||
            again.in_flight != p.in_flight || !streq(again.d->id, p.d->id) ||
            !streq(again.d->outcome, p.d->outcome) ||
            !streq(again.d->object_kind, p.d->object_kind) ||
            !streq(again.d->object_name, p.d->object_name) || again.d->attempts != p.d->attempts ||
            again.d->queued_ms != p.d->queued_ms || again.d->len != p.d->len ||
            memcmp(again.d->body, p.d->body, p.d->len) != 0)
                abort();
        free(s);
        pending_delivery_release(&again);
        pending_delivery_release(&p);
}

static void key_checked(const char *data, size_t len)
{
        char ns[64], name[64];
        char *key = str_printf(PREFIX NOTIFY_PENDING_SEGMENT "%.*s", (int)len, data);

        if (!key)
                return;
        if (pending_key_parse(PREFIX, key, ns, name) == 0) {
                /* ns/name/<15 digits>-<6 digits>, nothing else. */
                char *head = str_printf(PREFIX NOTIFY_PENDING_SEGMENT "%s/%s/", ns, name);
                if (!head || !str_has_prefix(key, head) ||
                    strlen(key) != strlen(head) + 15 + 1 + 6 || !ns[0] || !name[0] ||
                    strchr(ns, '/') || strchr(name, '/'))
                        abort();
                free(head);
        }
        free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        value_checked(s, size);
        key_checked(s, strnlen(s, size));
        free(s);
        return 0;
}
