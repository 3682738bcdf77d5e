/* api: who is on the other end of a connection. A unix socket peer's
 * credentials come from the kernel (SO_PEERCRED, SO_PEERGROUPS); a TCP peer
 * has none until tokens or TLS client certificates exist. */
#include "api-internal.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/bufferevent.h>

bool api_peer_is_admin(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, gid_t socket_gid)
{
        if (uid == 0 || gid == socket_gid)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == socket_gid)
                        return true;
        return false;
}

/* The group name for messages; the number when it has none. getgrgid_r may
 * ask NSS: only called on a refusal. */
static void group_name(gid_t gid, char *out, size_t size)
{
        struct group gr, *res = NULL;
        char buf[1024];
        if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res)
                (void)str_copy(out, size, res->gr_name);
        else
                snprintf(out, size, "%u", (unsigned)gid);
}

static void identify_unix(int fd, struct api_identity *id)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);

        id->is_unix = true;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                snprintf(id->refusal, sizeof(id->refusal),
                         "unix socket peer credentials unavailable: %s", strerror(errno));
                snprintf(id->source, sizeof(id->source), "unix");
                return;
        }
        id->uid = cred.uid;
        id->pid = cred.pid;
        snprintf(id->source, sizeof(id->source), "unix:pid=%ld,uid=%lu", (long)cred.pid,
                 (unsigned long)cred.uid);

        /* The socket file's group now (an admin may chgrp it while we run). */
        struct sockaddr_un sa;
        socklen_t salen = sizeof(sa);
        struct stat st;
        gid_t socket_gid = 0;
        if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 && salen > sizeof(sa_family_t) &&
            sa.sun_path[0] == '/') {
                sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
                if (stat(sa.sun_path, &st) == 0)
                        socket_gid = st.st_gid;
        }

        gid_t groups[API_PEER_GROUPS_MAX];
        socklen_t glen = sizeof(groups);
        size_t n_groups = 0;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
                n_groups = glen / sizeof(gid_t);
        /* ERANGE (more groups than we take) or an old kernel: primary group only. */

        if (api_peer_is_admin(cred.uid, cred.gid, groups, n_groups, socket_gid)) {
                (void)str_copy(id->user, sizeof(id->user), API_USER_ADMIN);
                (void)str_copy(id->groups[0], sizeof(id->groups[0]), API_GROUP_ADMINS);
                id->n_groups = 1;
                id->authn = API_AUTHN_UNIX;
                id->admin = true;
                return;
        }
        char gname[64];
        group_name(socket_gid, gname, sizeof(gname));
        snprintf(id->refusal, sizeof(id->refusal),
                 "unix socket peer uid %lu is neither root nor in the socket's group %s",
                 (unsigned long)cred.uid, gname);
}

void api_identity_set_admin(struct api_identity *id)
{
        id->admin = streq(id->user, API_USER_ADMIN);
        for (size_t i = 0; i < id->n_groups; i++)
                if (streq(id->groups[i], API_GROUP_ADMINS))
                        id->admin = true;
}

void api_identify(struct evhttp_request *req, struct api_identity *ret)
{
        *ret = (struct api_identity){0};
        (void)str_copy(ret->user, sizeof(ret->user), API_USER_ANONYMOUS);
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        int fd = bev ? bufferevent_getfd(bev) : -1;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
                snprintf(ret->refusal, sizeof(ret->refusal), "connection has no socket");
                return;
        }
        if (ss.ss_family == AF_UNIX) {
                identify_unix(fd, ret);
                return;
        }
        /* TCP: no credentials; allowed as before (docs/security.md). */
        char *host = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(conn, &host, &port);
        if (ss.ss_family == AF_INET6)
                snprintf(ret->source, sizeof(ret->source), "[%s]:%u", host ? host : "", port);
        else
                snprintf(ret->source, sizeof(ret->source), "%s:%u", host ? host : "", port);
        /* A verified TLS client certificate names the user (tls.c). */
        if (api_tls_identify(conn, ret))
                return;
}
