/* smtp.c: the smtp type — a plain-text mail through libcurl's SMTP client,
 * STARTTLS (required unless startTLS is false) on smtp://, implicit TLS on
 * smtps://. An SMTP 4xx reply is worth another attempt, a 5xx is not. */
#include <curl/curl.h>
#include <time.h>

#include "notify-internal.h"

#define SUBJECT_MAX 200 /* bytes of the summary in the Subject */
#define VALUE_MAX   900 /* bytes of a value in the text: under SMTP's 998 a line */

struct upload {
        const char *data;
        size_t len, off;
};

static size_t on_read(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct upload *u = userdata;
        size_t room = size * nmemb;
        size_t take = u->len - u->off < room ? u->len - u->off : room;

        memcpy(p, u->data + u->off, take);
        u->off += take;
        return take;
}

static int on_progress(void *userdata, curl_off_t dltotal _unused_, curl_off_t dlnow _unused_,
                       curl_off_t ultotal _unused_, curl_off_t ulnow _unused_)
{
        const atomic_bool *stopping = userdata;

        return stopping && atomic_load(stopping) ? 1 : 0;
}

/* "Name:       value" with value on one line, cut at VALUE_MAX bytes. */
static void text_line(struct buf *b, const char *name, const char *value)
{
        size_t start = b->len;

        if (!value || !*value)
                return;
        (void)buf_printf(b, "%-10s %.*s", name, VALUE_MAX, value);
        for (size_t i = start; i < b->len; i++)
                if ((unsigned char)b->data[i] < ' ' || b->data[i] == 0x7f)
                        b->data[i] = ' ';
        (void)buf_append_str(b, "\r\n");
}

char *notify_smtp_message(const struct notify_delivery *d, int64_t now_ms)
{
        _cleanup_buf_ struct buf b;
        char date[64], object[200];
        time_t t = (time_t)(now_ms / 1000);
        struct tm tm;
        const json_t *p = d->payload;
        const char *ns = json_path_string(p, "object.namespace");

        buf_init(&b, 64 * 1024);
        if (!gmtime_r(&t, &tm) ||
            strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
                date[0] = '\0';
        snprintf(object, sizeof(object), "%s %s%s%s", json_path_string(p, "object.kind") ?: "?",
                 ns ? ns : "", ns ? "/" : "", json_path_string(p, "object.name") ?: "?");
        (void)buf_printf(&b, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, d->spec->from);
        for (size_t i = 0; i < d->spec->n_to; i++)
                (void)buf_printf(&b, "%s<%s>", i ? ", " : "", d->spec->to[i]);
        (void)buf_printf(&b,
                         "\r\nSubject: [berth] %.*s\r\nMessage-ID: <%s@berthd>\r\n"
                         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: 8bit\r\n%s: %s\r\n%s: %s\r\n\r\n",
                         SUBJECT_MAX, d->summary, d->id, NOTIFY_DELIVERY_HEADER, d->id,
                         NOTIFY_EVENT_HEADER, d->outcome);
        text_line(&b, "Outcome:", d->outcome);
        text_line(&b, "Object:", object);
        text_line(&b, "Phase:", json_path_string(p, "object.status.phase"));
        text_line(&b, "Reason:", json_path_string(p, "object.status.reason"));
        text_line(&b, "Message:", json_path_string(p, "object.status.message"));
        text_line(&b, "Started:", json_path_string(p, "object.status.startTime"));
        text_line(&b, "Finished:", json_path_string(p, "object.status.completionTime"));
        text_line(&b, "Event:", json_path_string(p, "event.reason"));
        text_line(&b, "Said:", json_path_string(p, "event.message"));
        text_line(&b, "At:", json_path_string(p, "event.lastTimestamp"));
        (void)buf_printf(&b, "Notifier:  %s/%s\r\n", d->notifier_ns, d->notifier_name);
        return buf_steal(&b);
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

static void password_freep(char **p)
{
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

int notify_smtp_deliver(const struct notify_delivery *d, struct notify_result *ret,
                        void *userdata _unused_)
{
        _cleanup_(curl_easyp) CURL *c = curl_easy_init();
        _cleanup_(curl_slistp) struct curl_slist *rcpt = NULL;
        _cleanup_free_ char *msg = notify_smtp_message(d, time_now_ms());
        _cleanup_free_ char *from = str_printf("<%s>", d->spec->from);
        _cleanup_(password_freep) char *password = NULL;
        char curl_error[CURL_ERROR_SIZE] = "";
        long code = 0;

        if (!c || !msg || !from)
                goto oom;
        for (size_t i = 0; i < d->spec->n_to; i++) {
                _cleanup_free_ char *to = str_printf("<%s>", d->spec->to[i]);
                struct curl_slist *next = to ? curl_slist_append(rcpt, to) : NULL;
                if (!next)
                        goto oom;
                rcpt = next;
        }
        struct upload up = {.data = msg, .len = strlen(msg)};
        (void)curl_easy_setopt(c, CURLOPT_URL, d->spec->url);
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
        (void)curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
        (void)curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        (void)curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        (void)curl_easy_setopt(c, CURLOPT_READDATA, &up);
        (void)curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
        if (str_has_prefix(d->spec->url, "smtp://") && d->spec->start_tls)
                (void)curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        if (d->spec->username) {
                password =
                    strndup((const char *)(d->secret ? d->secret : (const unsigned char *)""),
                            d->secret_len);
                if (!password)
                        goto oom;
                (void)curl_easy_setopt(c, CURLOPT_USERNAME, d->spec->username);
                (void)curl_easy_setopt(c, CURLOPT_PASSWORD, password);
        }
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->spec->timeout_ms);
        (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)d->spec->timeout_ms);
        (void)curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        (void)curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        (void)curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)d->stopping);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
        CURLcode cc = curl_easy_perform(c);
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        ret->code = (int)code;
        if (cc == CURLE_OK)
                return 0;
        if (code >= 400)
                ret->retry = code < 500;
        else
                ret->retry = cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT ||
                             cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_SEND_ERROR ||
                             cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
                             cc == CURLE_SSL_CONNECT_ERROR;
        char reply[32] = "";
        if (code)
                snprintf(reply, sizeof(reply), " (reply %ld)", code);
        snprintf(ret->error, sizeof(ret->error), "mail to %s via %s: %s%s", d->spec->to[0],
                 d->spec->url, curl_error[0] ? curl_error : curl_easy_strerror(cc), reply);
        return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
oom:
        snprintf(ret->error, sizeof(ret->error), "out of memory");
        return -ENOMEM;
}
