/* store etcd watches: one thread per watch holds a streaming POST /v3/watch and
 * reads one JSON message per line.
 *
 * Events are delivered per message, in order; the next revision to deliver is
 * remembered so that after a broken stream (etcd restart, failover) the watch
 * resumes at exactly that revision: no event is lost or repeated. Reconnects back
 * off from 100 ms to 5 s and go on until cancelled. Cancelling sets a flag that
 * curl's progress callback (called at least once a second) and the backoff wait
 * both look at, shuts the stream's connection down, then joins the thread.
 *
 * A watch message is capped at 64 MiB: a larger one ends the watch with -EMSGSIZE.
 */
#include <stdatomic.h>
#include <time.h>

#include "etcd-internal.h"

#define ETCD_WATCH_MESSAGE_MAX (64 * 1024 * 1024)
#define ETCD_WATCH_BACKOFF_MIN 100
#define ETCD_WATCH_BACKOFF_MAX 5000

struct etcd_watch {
        struct store_watch base;
        struct etcd_store *s;
        struct etcd_watch *next; /* in s->watches, under s->lock */
        char *key;               /* base64 range of the prefix */
        char *end;
        pthread_t thread;

        /* m guards cancel's wake-up; cancel itself is atomic for curl's callbacks */
        pthread_mutex_t m;
        pthread_cond_t c;
        atomic_bool cancel;
        struct socket_slot sock; /* the stream's connection: a cancel shuts it down */

        /* thread-owned */
        int64_t next_rev; /* first revision not delivered yet */
        struct buf line;
        bool created;      /* the current stream was accepted */
        bool reconnect;    /* the current stream is unusable: drop it */
        int final_error;   /* ends the watch after the stream stops */
        bool free_on_exit; /* cancelled from its own callback */
        uint64_t auth_gen; /* generation of the token of the current stream */
        bool auth_stale;   /* etcd refused that token: get a new one, reconnect at once */
        bool auth_retried; /* ... but only once until a stream is accepted */
};

static void watch_free(struct etcd_watch *w)
{
        if (!w)
                return;
        free(w->key);
        free(w->end);
        buf_release(&w->line);
        pthread_mutex_destroy(&w->m);
        pthread_cond_destroy(&w->c);
        socket_slot_destroy(&w->sock);
        free(w);
}

/* One stream message. Returns false to stop reading this stream. */
static bool watch_handle(struct etcd_watch *w, const char *data, size_t len)
{
        if (len == 0)
                return true;
        struct etcd_watch_msg m;
        int r = etcd_watch_msg_parse(data, len, &m);
        if (r < 0) {
                if (r == -ENOMEM)
                        w->final_error = r;
                w->reconnect = true;
                return false;
        }
        if (m.error) {
                /* The gateway lost its stream to etcd: start a new one. */
                etcd_watch_msg_release(&m);
                w->reconnect = true;
                return false;
        }
        if (m.created && !m.canceled) {
                w->created = true;
                w->auth_retried = false;
        }
        if (m.canceled && w->s->url.user && !w->auth_retried &&
            etcd_error_token_rejected(m.cancel_reason, -1)) {
                /* The token expired while no stream needed it (simple tokens live
                 * --auth-token-ttl): a new token, a new stream. */
                w->auth_stale = true;
                w->auth_retried = true;
                w->reconnect = true;
                etcd_watch_msg_release(&m);
                return false;
        }
        if (m.canceled) {
                if (m.compact_revision > 0)
                        w->final_error = STORE_ERR_COMPACTED;
                else
                        w->final_error = etcd_error_errno(m.cancel_reason, -1);
                etcd_watch_msg_release(&m);
                return false;
        }
        /* Events already delivered are skipped: a stream never repeats them, but
         * this keeps the no-duplicate promise independent of etcd's batching. */
        size_t skip = 0;
        while (skip < m.n && m.events[skip].kv.mod_revision < w->next_rev)
                skip++;
        if (skip < m.n && !atomic_load(&w->cancel)) {
                r = store_watch_deliver(&w->base, m.events + skip, m.n - skip, 0);
                if (r < 0) {
                        /* A value that does not inflate: the watch has ended. */
                        w->final_error = r;
                        etcd_watch_msg_release(&m);
                        return false;
                }
                w->next_rev = m.events[m.n - 1].kv.mod_revision + 1;
        }
        etcd_watch_msg_release(&m);
        return !atomic_load(&w->cancel);
}

static size_t watch_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct etcd_watch *w = userdata;
        size_t n = size * nmemb;
        if (atomic_load(&w->cancel))
                return 0;
        size_t from = w->line.len;
        if (buf_append(&w->line, ptr, n) < 0) {
                w->final_error = -EMSGSIZE;
                return 0;
        }
        for (;;) {
                char *nl = memchr(w->line.data + from, '\n', w->line.len - from);
                if (!nl)
                        break;
                size_t len = (size_t)(nl - w->line.data);
                bool go_on = watch_handle(w, w->line.data, len);
                buf_consume(&w->line, len + 1);
                from = 0;
                if (!go_on)
                        return 0;
        }
        return n;
}

static int watch_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                             curl_off_t ultotal, curl_off_t ulnow)
{
        (void)dltotal;
        (void)dlnow;
        (void)ultotal;
        (void)ulnow;
        struct etcd_watch *w = userdata;
        return atomic_load(&w->cancel) ? 1 : 0;
}

static curl_socket_t watch_open_socket(void *userdata, curlsocktype purpose,
                                       struct curl_sockaddr *addr)
{
        struct etcd_watch *w = userdata;
        (void)purpose;
        int fd = socket_slot_open(&w->sock, addr->family, addr->socktype, addr->protocol);
        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int watch_close_socket(void *userdata, curl_socket_t fd)
{
        struct etcd_watch *w = userdata;
        return socket_slot_close(&w->sock, fd);
}

/* Waits ms or until cancelled; true if cancelled. */
static bool watch_wait(struct etcd_watch *w, int64_t ms)
{
        struct timespec ts;
        time_mono_deadline(&ts, ms);
        LOCK_SCOPE(&w->m);
        while (!atomic_load(&w->cancel)) {
                if (pthread_cond_timedwait(&w->c, &w->m, &ts) == ETIMEDOUT)
                        break;
        }
        return atomic_load(&w->cancel);
}

/* One stream: from (re)connecting at next_rev until it ends. Leaves w->created
 * false when it never got going. */
static void watch_stream(struct etcd_watch *w, CURL *h, size_t ep)
{
        struct etcd_store *s = w->s;
        buf_reset(&w->line);
        w->created = false;
        w->reconnect = false;
        _cleanup_(slist_freep) struct curl_slist *headers = NULL;
        if (s->url.user) {
                _cleanup_(secret_freep) char *auth = NULL;
                int r = etcd_auth_header(s, w->auth_stale ? &w->auth_gen : NULL, &auth,
                                         &w->auth_gen, NULL);
                w->auth_stale = false;
                /* Refused credentials stay refused; anything else (etcd away) is
                 * retried like a failed connect. */
                if (r == -EACCES || r == -ENOMEM || r == -EINVAL)
                        w->final_error = r;
                if (r < 0)
                        return;
                headers = etcd_headers_with(s, auth);
                if (!headers) {
                        w->final_error = -ENOMEM;
                        return;
                }
        }
        char rev_s[I64_STR_MAX];
        i64_format(w->next_rev, rev_s);
        _cleanup_json_ json_t *body =
            json_pack("{s:{s:s, s:s, s:s, s:b, s:b}}", "create_request", "key", w->key, "range_end",
                      w->end, "start_revision", rev_s, "prev_kv", 1, "progress_notify", 1);
        _cleanup_free_ char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (!data) {
                w->final_error = -ENOMEM;
                return;
        }
        char url[ETCD_URL_MAX];
        snprintf(url, sizeof(url), "%s://%s/v3/watch", s->url.tls ? "https" : "http",
                 s->url.endpoints[ep]);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers ? headers : s->headers);
        (void)curl_easy_perform(h);
        /* Nothing of this stream may outlive it. */
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
}

static void *watch_main(void *userdata)
{
        struct etcd_watch *w = userdata;
        struct etcd_store *s = w->s;
        CURL *h = curl_easy_init();
        if (h && etcd_curl_options(s, h) < 0) {
                curl_easy_cleanup(h);
                h = NULL;
        }
        if (!h) {
                w->final_error = -ENOMEM;
        } else {
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_on_write);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
                curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
                curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_on_progress);
                curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
                curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, watch_open_socket);
                curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, w);
                curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, watch_close_socket);
                curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, w);
        }
        size_t ep = etcd_preferred_endpoint(s);
        int64_t backoff = ETCD_WATCH_BACKOFF_MIN;
        while (h && !atomic_load(&w->cancel) && !w->final_error) {
                watch_stream(w, h, ep);
                if (atomic_load(&w->cancel) || w->final_error)
                        break;
                if (w->auth_stale)
                        continue; /* at most once in a row: see auth_retried */
                /* The stream ended: etcd restarted, the connection broke, or it never
                 * started. Resume at next_rev, elsewhere if it never started here. */
                if (w->created) {
                        backoff = ETCD_WATCH_BACKOFF_MIN;
                } else {
                        ep = (ep + 1) % s->n_endpoints;
                }
                if (watch_wait(w, backoff))
                        break;
                if (!w->created)
                        backoff = backoff * 2 > ETCD_WATCH_BACKOFF_MAX ? ETCD_WATCH_BACKOFF_MAX
                                                                       : backoff * 2;
        }
        if (!atomic_load(&w->cancel))
                store_watch_deliver(&w->base, NULL, 0, w->final_error);
        if (h)
                curl_easy_cleanup(h);
        if (w->free_on_exit)
                watch_free(w);
        return NULL;
}

int etcd_watch(struct store *base, const char *prefix, int64_t from_revision, store_watch_fn fn,
               void *userdata, struct store_watch **ret, struct berth_error *err)
{
        struct etcd_store *s = ES(base);
        int64_t start = from_revision;
        if (start == 0) {
                int64_t rev;
                int r = etcd_revision(base, &rev, err);
                if (r < 0) {
                        berth_error_prefix(err, "watch %s", prefix);
                        return r;
                }
                start = rev + 1;
        }
        struct etcd_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return berth_error_set(err, -ENOMEM, "etcd: watch %s: out of memory", prefix);
        w->base = (struct store_watch){.store = base, .fn = fn, .userdata = userdata};
        w->s = s;
        w->next_rev = start;
        atomic_init(&w->cancel, false);
        socket_slot_init(&w->sock);
        buf_init(&w->line, ETCD_WATCH_MESSAGE_MAX);
        pthread_mutex_init(&w->m, NULL);
        cond_init_monotonic(&w->c);
        if (etcd_prefix_range(prefix, &w->key, &w->end) < 0) {
                watch_free(w);
                return berth_error_set(err, -ENOMEM, "etcd: watch %s: out of memory", prefix);
        }
        LOCK_SCOPE(&s->lock);
        int r = -pthread_create(&w->thread, NULL, watch_main, w);
        if (r < 0) {
                watch_free(w);
                return berth_error_set(err, r, "etcd: watch %s: start thread: %s", prefix,
                                       strerror(-r));
        }
        w->next = s->watches;
        s->watches = w;
        *ret = &w->base;
        return 0;
}

static void watch_stop(struct etcd_watch *w)
{
        {
                LOCK_SCOPE(&w->m);
                atomic_store(&w->cancel, true);
                pthread_cond_broadcast(&w->c);
        }
        socket_slot_interrupt(&w->sock);
        if (pthread_equal(pthread_self(), w->thread)) {
                /* From its own callback (not allowed by store.h, but harmless): the
                 * thread frees the watch when it unwinds. */
                w->free_on_exit = true;
                pthread_detach(w->thread);
                return;
        }
        pthread_join(w->thread, NULL);
        watch_free(w);
}

void etcd_watch_cancel(struct store_watch *base)
{
        struct etcd_watch *w = container_of(base, struct etcd_watch, base);
        struct etcd_store *s = w->s;
        {
                LOCK_SCOPE(&s->lock);
                for (struct etcd_watch **p = &s->watches; *p; p = &(*p)->next) {
                        if (*p == w) {
                                *p = w->next;
                                break;
                        }
                }
        }
        watch_stop(w);
}

void etcd_watches_stop(struct etcd_store *s)
{
        struct etcd_watch *list;
        {
                LOCK_SCOPE(&s->lock);
                list = s->watches;
                s->watches = NULL;
        }
        while (list) {
                struct etcd_watch *w = list;
                list = w->next;
                watch_stop(w);
        }
}
