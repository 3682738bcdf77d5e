/* webhook.c: the webhook and slack types — one HTTP POST per attempt.
 *
 * Redirects are not followed (a receiver that moved answers 3xx, a failure
 * the status shows) and only http and https are spoken, so a Notifier
 * cannot make berthd fetch file:// or other schemes. */
#include <curl/curl.h>

#include "notify-internal.h"

#define USER_AGENT "berthd/" BERTH_VERSION

struct reply {
        char data[NOTIFY_OUTPUT_MAX + 1];
        size_t len;
};

static size_t on_reply(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct reply *r = userdata;
        size_t n = size * nmemb;
        size_t room = NOTIFY_OUTPUT_MAX - r->len;
        size_t take = n < room ? n : room;

        memcpy(r->data + r->len, p, take);
        r->len += take;
        r->data[r->len] = '\0';
        return n; /* the rest is read and dropped */
}

static int on_progress(void *userdata, curl_off_t dltotal _unused_, curl_off_t dlnow _unused_,
                       curl_off_t ultotal _unused_, curl_off_t ulnow _unused_)
{
        const atomic_bool *stopping = userdata;

        return stopping && atomic_load(stopping) ? 1 : 0;
}

static void curl_slistp(struct curl_slist **l)
{
        curl_slist_free_all(*l);
}

static void curl_easyp(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

/* Connection errors and time-outs are worth another attempt; a URL curl
 * cannot use or a TLS certificate it refuses are not (they fail the same
 * way next time). */
static bool curl_retryable(CURLcode cc)
{
        switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
                return true;
        default:
                return false;
        }
}

/* A reply body for a message: printable, one line. */
static void one_line(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < ' ' || *s == 0x7f)
                        *s = ' ';
}

/* POSTs body to url with headers (the Content-Type among them); messages
 * name the URL as shown says. */
static int http_post(const struct notify_delivery *d, const char *url, const char *shown,
                     struct curl_slist *headers, const char *body, size_t len,
                     struct notify_result *ret)
{
        _cleanup_(curl_easyp) CURL *c = curl_easy_init();
        struct reply reply = {.len = 0};
        char curl_error[CURL_ERROR_SIZE] = "";
        long status = 0;

        if (!c) {
                snprintf(ret->error, sizeof(ret->error), "out of memory");
                return -ENOMEM;
        }
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        (void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_POST, 1L);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        (void)curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->spec->timeout_ms);
        (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)d->spec->timeout_ms);
        (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
        (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
        (void)curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        (void)curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        (void)curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)d->stopping);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
        CURLcode cc = curl_easy_perform(c);
        if (cc != CURLE_OK) {
                ret->retry = curl_retryable(cc);
                snprintf(ret->error, sizeof(ret->error), "POST %s: %s", shown,
                         curl_error[0] ? curl_error : curl_easy_strerror(cc));
                return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
        }
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        ret->code = (int)status;
        if (status >= 200 && status < 300)
                return 0;
        ret->retry = notify_http_retryable(status);
        one_line(reply.data);
        snprintf(ret->error, sizeof(ret->error), "POST %s: %ld%s%.200s", shown, status,
                 reply.len ? " " : "", reply.data);
        return -EPROTO;
}

static int add_header(struct curl_slist **l, const char *name, const char *value)
{
        _cleanup_free_ char *h = str_printf("%s: %s", name, value);
        struct curl_slist *next = h ? curl_slist_append(*l, h) : NULL;

        if (!next)
                return -ENOMEM;
        *l = next;
        return 0;
}

int notify_webhook_deliver(const struct notify_delivery *d, struct notify_result *ret,
                           void *userdata _unused_)
{
        _cleanup_(curl_slistp) struct curl_slist *headers = NULL;
        char signature[NOTIFY_SIGNATURE_LEN];

        if (add_header(&headers, "Content-Type", "application/json") < 0 ||
            add_header(&headers, NOTIFY_DELIVERY_HEADER, d->id) < 0 ||
            add_header(&headers, NOTIFY_EVENT_HEADER, d->outcome) < 0 ||
            add_header(&headers, "Expect", "") < 0) {
                snprintf(ret->error, sizeof(ret->error), "out of memory");
                return -ENOMEM;
        }
        if (d->secret) {
                if (notify_signature(d->secret, d->secret_len, d->body, d->body_len, signature) <
                    0) {
                        snprintf(ret->error, sizeof(ret->error), "cannot sign the delivery");
                        return -EIO;
                }
                if (add_header(&headers, NOTIFY_SIGNATURE_HEADER, signature) < 0) {
                        snprintf(ret->error, sizeof(ret->error), "out of memory");
                        return -ENOMEM;
                }
        }
        return http_post(d, d->spec->url, d->spec->url, headers, d->body, d->body_len, ret);
}

static void wiped_freep(char **p)
{
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

int notify_slack_deliver(const struct notify_delivery *d, struct notify_result *ret,
                         void *userdata _unused_)
{
        _cleanup_(curl_slistp) struct curl_slist *headers = NULL;
        _cleanup_free_ char *text = str_printf("[berth] %s", d->summary);
        _cleanup_json_ json_t *msg = text ? json_pack("{s:s}", "text", text) : NULL;
        _cleanup_free_ char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
        _cleanup_(wiped_freep) char *url = NULL;

        if (!body || add_header(&headers, "Content-Type", "application/json") < 0) {
                snprintf(ret->error, sizeof(ret->error), "out of memory");
                return -ENOMEM;
        }
        /* The URL from a Secret is a credential: messages never show it
         * (curl's own may name the host). */
        if (!d->spec->url) {
                url = strndup((const char *)d->secret, d->secret ? d->secret_len : 0);
                if (!url)
                        return -ENOMEM;
                while (*url && strchr(" \t\r\n", url[strlen(url) - 1]))
                        url[strlen(url) - 1] = '\0';
                if (!notifier_url_is_http(url)) {
                        snprintf(ret->error, sizeof(ret->error),
                                 "Secret %s key %s does not hold an http(s) URL",
                                 d->spec->secret.name, d->spec->secret.key);
                        return -EINVAL;
                }
        }
        _cleanup_free_ char *shown =
            url ? str_printf("<Secret %s key %s>", d->spec->secret.name, d->spec->secret.key)
                : NULL;
        if (url && !shown)
                return -ENOMEM;
        int r = http_post(d, url ? url : d->spec->url, url ? shown : d->spec->url, headers, body,
                          strlen(body), ret);
        return r;
}
