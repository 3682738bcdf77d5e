/* docker internals: the request core shared by every call, and the pure helpers
 * (parsing, version negotiation, error formatting) that unit tests reach
 * without a daemon. Not part of the module's contract. */
#pragma once

#include <curl/curl.h>
#include <stdatomic.h>

#include "docker.h"

#define DOCKER_VERSION_MAX        16
#define DOCKER_ERROR_BODY_MAX     (64 * 1024) /* error body kept from a streaming call */
#define DOCKER_CONNECT_TIMEOUT_MS 5000
#define DOCKER_REQUEST_TIMEOUT_MS 60000 /* non-streaming calls; streams have none */

struct docker_engine;

struct docker {
        struct docker_engine *engine; /* shared with the clones; NULL: a bare client */
        int slot;                     /* index of the call in flight in engine; -1 none */
        CURL *curl;
        char *url;         /* as given, for messages: "unix:///var/run/docker.sock" */
        char *socket_path; /* NULL for tcp:// */
        char *origin;      /* "http://docker" or "http://host:port" */
        char version[DOCKER_VERSION_MAX]; /* "" until negotiated */
        atomic_bool interrupted;
        /* The engine tracker gave up on the call in progress (the engine
         * does not answer): it fails with -EHOSTDOWN. Reset per call. */
        atomic_bool abandoned;
        struct socket_slot sock; /* docker_interrupt shuts the connection down */
        char errbuf[CURL_ERROR_SIZE];
};

/* Called with each piece of a 2xx body as it arrives. Return 0 to go on, > 0
 * to stop cleanly (docker_call then returns 0 and sets req->stopped), < 0 to
 * abort with that error (the callback fills err itself if it wants to). */
typedef int (*docker_data_fn)(const char *data, size_t len, void *userdata);
/* Fills buf with up to len bytes of a streamed request body: returns the
 * count, 0 at its end, or < 0 to abort the call with that error (the callback
 * fills err itself). */
typedef ssize_t (*docker_upload_fn)(char *buf, size_t len, void *userdata);

struct docker_req {
        const char *method; /* "GET", "POST", "DELETE" */
        const char *path;   /* "/containers/create"; versioned by docker_call */
        const char *query;  /* already escaped, without '?'; NULL = none */
        const json_t *body; /* sent as application/json; NULL = empty */
        /* POST only, instead of body: sent with chunked encoding as upload
         * produces it, typed upload_type ("application/x-tar"). */
        docker_upload_fn upload;
        void *upload_userdata;
        const char *upload_type;
        docker_data_fn on_data; /* NULL = collect the body into resp */
        void *userdata;
        bool stream;     /* no total timeout (events, logs, pulls); takes no slot */
        long timeout_ms; /* non-stream total timeout; 0 = DOCKER_REQUEST_TIMEOUT_MS */
        /* out: */
        long status;
        bool stopped;    /* on_data returned > 0 */
        struct buf resp; /* the body (buffered mode) or an error body (streaming) */
};

/* The one request core. Returns 0 whenever the daemon answered (any status, in
 * req->status; body in req->resp, capped at DOCKER_RESPONSE_MAX) or on_data
 * asked to stop; < 0 on transport failure (-ECONNREFUSED, -ETIMEDOUT,
 * -ECONNRESET, -EIO), on -EINTR, -E2BIG (body too large), or on_data's error.
 * context ("create container x") prefixes the message in err. Caller releases
 * req->resp with buf_release() (docker_req_release). */
int docker_call(struct docker *d, struct docker_req *req, const char *context,
                struct berth_error *err);
void docker_req_release(struct docker_req *req);
/* ---- the engine tracker (docker-engine.c) ------------------------------ */

/* A client for url that talks to nobody yet and has no engine tracker
 * (the tracker's own probe client). Caller frees with docker_free(). */
int docker_alloc(const char *url, struct docker **ret, struct berth_error *err);
/* A tracker for the engine at url, its thread started. NULL on failure. */
struct docker_engine *docker_engine_new(const char *url);
struct docker_engine *docker_engine_ref(struct docker_engine *e);
/* The last unref stops the thread and frees it. NULL ok. */
void docker_engine_unref(struct docker_engine *e);
/* Before a call that can hang: waits for a slot (0, d->slot set), or fails
 * with -EHOSTDOWN (engine unresponsive) or -EINTR (docker_interrupt), err
 * filled with context. No-op (0) for a bare client. */
int docker_engine_acquire(struct docker *d, const char *context, struct berth_error *err);
/* After it: frees the slot; answered: the engine answered (any status);
 * op: docker_operation's name of the call (each has a cost of its own). */
void docker_engine_release(struct docker *d, const char *op, int64_t latency_ns, bool answered);
/* Into err: "<context>: <why the engine is unresponsive>", -EHOSTDOWN. */
int docker_engine_fail(struct docker *d, const char *context, struct berth_error *err);
/* Tests: the tracker's thresholds (DOCKER_ENGINE_SUSPECT_MS, _STALL_MS,
 * _PING_TIMEOUT_MS, _PROBE_MS) made shorter. */
void docker_engine_set_timing(struct docker *d, int64_t suspect_ms, int64_t stall_ms,
                              long ping_timeout_ms, int64_t probe_ms);
/* Wakes d's wait for a slot (docker_interrupt). */
void docker_engine_interrupt(struct docker *d);
/* The images the engine was seen to hold (image-memory.h); NULL for a bare
 * client. */
struct image_memory *docker_engine_images(struct docker *d);

/* Whether an HTTP status is a success (2xx). */
static inline bool docker_status_ok(long status)
{
        return status >= 200 && status < 300;
}
/* The "Id" of a create's JSON answer (a container, an exec) into *ret_id
 * (caller frees); -EPROTO naming ctx when there is none. */
int docker_reply_id(const struct docker_req *req, const char *ctx, char **ret_id,
                    struct berth_error *err);
/* Fills err from a call that got an unwanted status (docker_error_from_body
 * with req's status and body); code 0 = docker_status_to_errno. Returns the
 * code. */
int docker_req_fail(const struct docker_req *req, int code, const char *context,
                    struct berth_error *err);
/* GET path and parse the JSON answer (2xx only). Caller decrefs *ret. */
int docker_get_json(struct docker *d, const char *path, const char *query, json_t **ret,
                    const char *context, struct berth_error *err);
/* Escapes a query value or path segment; caller frees with free(). NULL on OOM. */
char *docker_escape(const char *s);
/* A list's query: base ("all=1", or "" for none) and, with label_filter
 * ("berth.managed=true"), "filters={"label":[...]}" escaped after it.
 * Caller frees; NULL on OOM. */
char *docker_list_query(const char *base, const char *label_filter);

/* The operation a call is counted under in berth_docker_requests_total:
 * its method and path template ("POST /containers/{id}/start" is "start",
 * "GET /containers/{id}/json" "inspect", "POST /images/create" "pull"),
 * never the ids in the path; "other" for a path the client does not call.
 * Static string. Pure. */
const char *docker_operation(const char *method, const char *path);
/* "2xx".."5xx" for a call that got an answer (rc >= 0), else "error". */
const char *docker_code_class(int rc, long status);

/* -errno for a failed HTTP status: 400 -EINVAL, 401/403 -EACCES, 404 -ENOENT,
 * 409 -EBUSY, 5xx -EIO, others -EPROTO. */
int docker_status_to_errno(long status);
/* Fills err with "<context>: <status> <daemon message>" from an error body:
 * {"message": ...} when it is JSON, else the trimmed text (capped), else
 * "(no message)". Returns code. */
int docker_error_from_body(struct berth_error *err, int code, long status, const char *body,
                           size_t len, const char *context);

/* Numeric major.minor comparison: *ret_cmp < 0, 0, > 0. -EINVAL on junk. */
int docker_version_compare(const char *a, const char *b, int *ret_cmp);
/* min(server_max, DOCKER_API_VERSION) into ret[DOCKER_VERSION_MAX]; -EPROTO when
 * server_max is junk or server_min (may be NULL) is newer than we speak. */
int docker_version_negotiate(const char *server_max, const char *server_min,
                             char ret[DOCKER_VERSION_MAX]);

/* Splits an image reference for POST /images/create: "busybox" → busybox +
 * latest; "host:5000/img:1.0" → host:5000/img + 1.0; "img@sha256:ab" →
 * img + sha256:ab (the API takes a digest in tag). Both outputs caller-freed. */
int docker_image_ref_split(const char *ref, char **ret_name, char **ret_tag);

/* Fills c from /containers/json (list form, details_known false) or from
 * /containers/{id}/json (inspect form). -EPROTO without an Id. */
int docker_container_from_json(const json_t *j, bool inspect, struct docker_container *ret);

/* Parses one /events line. ret's strings borrow from *ret_root (caller decrefs);
 * attributes is never NULL. -EPROTO on junk or when Type/Action is missing. */
int docker_event_parse(const char *line, size_t len, json_t **ret_root, struct docker_event *ret);

/* Splits a byte stream into lines ('\n', a trailing '\r' dropped) for fn; a
 * line longer than max is -E2BIG. Bytes after the last newline wait for the
 * next feed. fn returns like docker_data_fn. */
typedef int (*docker_line_fn)(const char *line, size_t len, void *userdata);
struct docker_lines {
        struct buf partial;
        docker_line_fn fn;
        void *userdata;
};
void docker_lines_init(struct docker_lines *l, size_t max, docker_line_fn fn, void *userdata);
void docker_lines_release(struct docker_lines *l);
int docker_lines_feed(struct docker_lines *l, const char *data, size_t len);
/* docker_call for a stream of lines (/events, pull progress): feeds a 2xx
 * body to lines (set up by docker_lines_init). Sets req's on_data, userdata
 * and stream. Returns like docker_call, except that a line over the splitter's
 * max is -E2BIG "<context>: <what> longer than <max> bytes" and a status other
 * than 2xx fails (docker_req_fail). */
int docker_call_lines(struct docker *d, struct docker_req *req, struct docker_lines *lines,
                      const char *what, const char *context, struct berth_error *err);

/* ---- tar ------------------------------------------------------------------ */

#define DOCKER_TAR_BLOCK    512
#define DOCKER_TAR_NAME_MAX 4096        /* a member's path or link target, with its NUL */
#define DOCKER_TAR_META_MAX (64 * 1024) /* one pax extended header or GNU long name */

/* One archive member as both tar directions see it. Types are ustar's
 * typeflags: '0' regular (the reader reports '\0' and '7' as '0'), '1' hard
 * link, '2' symlink, '3' char device, '4' block device, '5' directory, '6'
 * fifo; the reader passes other flags through. */
struct docker_tar_header {
        char type;
        char name[DOCKER_TAR_NAME_MAX];     /* directories end with '/' */
        char linkname[DOCKER_TAR_NAME_MAX]; /* symlink target / hard link source */
        uint64_t size;                      /* body bytes; 0 for header-only types */
        uint32_t mode;                      /* permission bits (07777) */
        int64_t mtime;                      /* seconds since the epoch */
};

/* Callbacks of the reader. Both return 0 to go on, > 0 to stop (the feed then
 * returns 1), < 0 to fail the feed with that value. */
struct docker_tar_ops {
        int (*entry)(const struct docker_tar_header *h, void *userdata);
        int (*data)(const char *data, size_t len, void *userdata); /* never empty */
};

/* An incremental tar decoder, pure: bytes may be split anywhere across
 * feeds. Understands ustar (with its prefix field), GNU long names ('L',
 * 'K'), pax extended headers ('x': path, linkpath, size; 'g' skipped), numeric
 * fields in octal or base-256, and checks each header's checksum. Metadata
 * members are folded into the next header and never reported. The first
 * all-zero block ends the archive; later bytes are ignored. */
struct docker_tar_reader {
        const struct docker_tar_ops *ops;
        void *userdata;
        unsigned char block[DOCKER_TAR_BLOCK];
        size_t block_len;
        int state;          /* TAR_* in docker-archive.c */
        uint64_t remaining; /* body or metadata bytes left in this member */
        size_t pad;         /* zero bytes after it, to the block boundary */
        char meta_type;     /* 'x', 'g', 'L' or 'K' while reading metadata */
        struct buf meta;
        char *next_name; /* from a pax header or GNU 'L', for the next member */
        char *next_link;
        bool next_has_size;
        uint64_t next_size;
        struct docker_tar_header hdr;
        const char *error; /* why the last -EPROTO; static string */
};

void docker_tar_reader_init(struct docker_tar_reader *r, const struct docker_tar_ops *ops,
                            void *userdata);
void docker_tar_reader_release(struct docker_tar_reader *r);
/* 0, 1 when a callback asked to stop (the rest of data is not consumed),
 * -EPROTO on a malformed archive (r->error says why; the reader stays
 * failed), -ENOMEM, or a callback's error. */
int docker_tar_reader_feed(struct docker_tar_reader *r, const char *data, size_t len);
/* Whether the archive ended: the end marker seen (true), or not. */
bool docker_tar_reader_ended(const struct docker_tar_reader *r);
/* After the last feed: 0 when the stream stopped at a member boundary (with
 * or without the end marker), -EPROTO inside a header, body or metadata. */
int docker_tar_reader_finish(struct docker_tar_reader *r);

/* Appends h's header block to out, preceded by a pax header when the name
 * (over 100 bytes and not splittable into ustar's 155-byte prefix and
 * 100-byte name at a '/') or the link target (over 100) does not fit. A size
 * beyond 11 octal digits is written in base-256. -ENAMETOOLONG for names of
 * DOCKER_TAR_NAME_MAX or more, -EINVAL for an empty name, -E2BIG when out is
 * full. */
int docker_tar_header_write(const struct docker_tar_header *h, struct buf *out);
/* Appends the zero bytes that end a body of size bytes at a block boundary. */
int docker_tar_padding_write(uint64_t size, struct buf *out);
/* Appends the end marker: two zero blocks. */
int docker_tar_end_write(struct buf *out);

/* The tar of a build context, produced as it is read: a depth-first walk of
 * dir (entries relative to it, dir itself not included) that reads each file
 * only when the previous bytes have been taken. Symbolic links are archived
 * as links and never followed, so nothing outside dir is read. */
struct docker_context_tar;
/* Opens dir. Caller frees with docker_context_tar_free(). */
int docker_context_tar_open(const char *dir, uint64_t max, struct docker_context_tar **ret,
                            struct berth_error *err);
/* Copies the next up to len bytes into buf: the count, 0 at the end, -E2BIG
 * past max, -EINVAL for a device, fifo or socket, -ENAMETOOLONG, -ELOOP for
 * directories nested too deep, -EIO when a file shrank while it was read,
 * other -errno; err filled. */
ssize_t docker_context_tar_read(struct docker_context_tar *t, char *buf, size_t len,
                                struct berth_error *err);
uint64_t docker_context_tar_size(const struct docker_context_tar *t); /* bytes produced */
void docker_context_tar_free(struct docker_context_tar *t);           /* NULL ok */

/* ---- builds -------------------------------------------------------------- */

#define DOCKER_BUILD_LINE_MAX (1024 * 1024) /* one JSON line of build progress */
#define DOCKER_BUILD_TEXT_MAX (16 * 1024)   /* one output line; longer ones are cut */

enum docker_build_line_kind {
        DOCKER_BUILD_LINE_OTHER, /* nothing for us ({}, an unknown aux, a blank line) */
        DOCKER_BUILD_LINE_STREAM,
        DOCKER_BUILD_LINE_STATUS,
        DOCKER_BUILD_LINE_IMAGE_ID,
        DOCKER_BUILD_LINE_ERROR,
};

struct docker_build_line {
        enum docker_build_line_kind kind;
        /* The stream text (may hold several newlines or none), the status,
         * aux.ID, or the error message (errorDetail.message, else error). */
        const char *text;
};

/* Parses one line of /build progress. ret's text borrows from *ret_root
 * (caller decrefs; NULL for a blank line). -EPROTO when the line is not a
 * JSON object. */
int docker_build_line_parse(const char *line, size_t len, json_t **ret_root,
                            struct docker_build_line *ret);

/* Cuts "stream" texts into lines for a docker_build_progress_fn: a line goes
 * to fn at its '\n' (without it), at DOCKER_BUILD_TEXT_MAX bytes, or at the
 * flush. Returns 0, or 1 once fn asked to stop. */
struct docker_build_text {
        struct buf line;
        docker_build_progress_fn fn;
        void *userdata;
};
void docker_build_text_init(struct docker_build_text *t, docker_build_progress_fn fn,
                            void *userdata);
void docker_build_text_release(struct docker_build_text *t);
int docker_build_text_feed(struct docker_build_text *t, const char *text);
int docker_build_text_flush(struct docker_build_text *t);
