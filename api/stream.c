/* api: what the long-lived streamed replies (watch.c, logs.c) share — the
 * server's lists of open streams, the connection set-up and the chunks.
 *
 * Loop thread only, like everything that touches evhttp.
 */
#include "api-internal.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

/* A client that reads nothing for this long loses its stream. */
#define STREAM_WRITE_TIMEOUT_S 60

void api_stream_list_add(struct api_stream_list *list, struct api_stream_link *link)
{
        link->prev = NULL;
        link->next = list->head;
        if (list->head)
                list->head->prev = link;
        list->head = link;
        list->n++;
}

void api_stream_list_remove(struct api_stream_list *list, struct api_stream_link *link)
{
        if (link->prev)
                link->prev->next = link->next;
        else if (list->head == link)
                list->head = link->next;
        if (link->next)
                link->next->prev = link->prev;
        link->prev = link->next = NULL;
        list->n--;
}

struct evhttp_connection *api_stream_attach(struct evhttp_request *req,
                                            void (*on_close)(struct evhttp_connection *, void *),
                                            void *arg)
{
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct timeval wtv = {.tv_sec = STREAM_WRITE_TIMEOUT_S};

        api_conn_set_closecb(conn, on_close, arg);
        /* Idle streams are normal: only writes may time out. */
        bufferevent_set_timeouts(evhttp_connection_get_bufferevent(conn), NULL, &wtv);
        return conn;
}

static void free_chunk(const void *data, size_t len, void *extra)
{
        (void)len;
        (void)extra;
        free((void *)data);
}

void api_stream_chunk(struct evhttp_request *req, char *data, size_t len,
                      void (*written)(struct evhttp_connection *, void *), void *arg)
{
        struct evbuffer *b = evbuffer_new();
        if (!b || evbuffer_add_reference(b, data, len, free_chunk, NULL) < 0) {
                free(data);
                if (b)
                        evbuffer_free(b);
                return;
        }
        evhttp_send_reply_chunk_with_cb(req, b, written, arg);
        evbuffer_free(b);
}

size_t api_request_output_len(struct evhttp_request *req)
{
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}
