/* http.c — libmicrohttpd glue: collects the body, checks the peer, calls the
 * API, queues the answer. MHD runs without threads: main.c's epoll loop calls
 * MHD_run when MHD's own epoll fd is readable or its timeout expires. MHD
 * never sees the listening socket: main.c accepts, checks the peer and hands
 * the connection over (netd_http_add); this file tells the connection table
 * (conn.h) when a request is whole and when its answer has gone. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "daemon.h"
#include "netd/log.h"

struct req_ctx {
	char *body;
	size_t len, cap;
	bool too_big;
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int conn_fd(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

static enum MHD_Result send_resp(struct netd_daemon *d, struct MHD_Connection *c, struct req_ctx *rc,
				 const char *method, const char *url, struct api_resp *r)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	size_t len = r->body ? strlen(r->body) : 0;

	/* answered: the request deadline stops until the answer has gone */
	netd_conns_busy(&d->conns, conn_fd(c));

	mr = MHD_create_response_from_buffer(len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!mr) {
		free(r->body);
		return MHD_NO;
	}
	if (r->content_type && len)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (r->allow)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
	ret = MHD_queue_response(c, r->status, mr);
	MHD_destroy_response(mr);
	log_debug("%s %s from pid=%d uid=%u gid=%u: %d", method, url, (int)rc->pid, (unsigned)rc->uid,
		  (unsigned)rc->gid, r->status);
	return ret;
}

static enum MHD_Result early(struct netd_daemon *d, struct MHD_Connection *c, struct req_ctx *rc,
			     const char *method, const char *url, int status, const char *msg)
{
	struct api_resp r = {0};

	netd_api_error(&r, status, "%s", msg);
	d->stats.by_code[status]++;
	return send_resp(d, c, rc, method, url, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct netd_daemon *d = cls;
	struct req_ctx *rc = *con_cls;
	struct api_resp r;
	struct api_req req;

	if (!rc) {
		const union MHD_ConnectionInfo *ci;
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		const char *clen;

		if (!(rc = calloc(1, sizeof(*rc))))
			return MHD_NO;
		*con_cls = rc;
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0) {
			log_warn("%s %s: cannot read the peer's credentials, refused", method, url);
			return early(d, c, rc, method, url, 403, "cannot identify the peer");
		}
		rc->pid = cr.pid;
		rc->uid = cr.uid;
		rc->gid = cr.gid;
		if (!netd_config_peer_allowed(&d->cfg, cr.uid, cr.gid)) {
			log_info("%s %s from pid=%d uid=%u gid=%u refused (not in allow_uids/allow_gids)",
				 method, url, (int)cr.pid, (unsigned)cr.uid, (unsigned)cr.gid);
			return early(d, c, rc, method, url, 403, "permission denied: uid not allowed by netd.conf");
		}
		clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (clen && strtoull(clen, NULL, 10) > d->cfg.max_body)
			return early(d, c, rc, method, url, 413, "request body too large");
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rc->too_big && rc->len + *upload_size > d->cfg.max_body) {
			rc->too_big = true;
			free(rc->body);
			rc->body = NULL;
		}
		if (!rc->too_big) {
			if (rc->len + *upload_size + 1 > rc->cap) {
				size_t cap = rc->cap ? rc->cap : 1024;
				char *p;

				while (cap < rc->len + *upload_size + 1)
					cap *= 2;
				if (!(p = realloc(rc->body, cap)))
					return MHD_NO;
				rc->body = p;
				rc->cap = cap;
			}
			memcpy(rc->body + rc->len, upload, *upload_size);
			rc->len += *upload_size;
			rc->body[rc->len] = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rc->too_big)
		return early(d, c, rc, method, url, 413, "request body too large");
	req.method = method;
	req.path = url;
	req.q_network = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "network");
	req.q_name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
	req.q_from = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
	req.q_type = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "type");
	req.body = rc->body;
	req.body_len = rc->len;
	netd_api_handle(d, &req, &r);
	(void)version;
	return send_resp(d, c, rc, method, url, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct netd_daemon *d = cls;
	struct req_ctx *rc = *con_cls;

	if (rc) {
		free(rc->body);
		free(rc);
		*con_cls = NULL;
	}
	/* the answer has gone (or the request died): the next one is due in time */
	netd_conns_idle(&d->conns, conn_fd(c), now_ms());
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct netd_daemon *d = cls;

	/* called before MHD closes the socket, so the fd is still this one */
	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		netd_conns_del(&d->conns, conn_fd(c));
}

/* MHD's complaints are mostly about clients that went away (or that netd sent
 * away): worth a debug line, not a line per flooded connection in the log. */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
		msg[--n] = 0;
	log_debug("http: %s", msg);
}

struct MHD_Daemon *netd_http_start(struct netd_daemon *d, unsigned max_conns, struct netd_err *err)
{
	struct MHD_Daemon *mhd;

	/* The inactivity timeout only catches a client that stops reading its
	 * answer; an incomplete request meets the table's shorter deadline. */
	mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET, 0,
			       NULL, NULL, on_request, d,
			       MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
			       MHD_OPTION_NOTIFY_CONNECTION, on_connection, d,
			       MHD_OPTION_EXTERNAL_LOGGER, mhd_log, d,
			       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
			       MHD_OPTION_CONNECTION_LIMIT, max_conns,
			       MHD_OPTION_END);
	if (!mhd)
		netd_err_set(err, -EIO, CNI_ERR_IO, "cannot start the HTTP server for the API");
	return mhd;
}

int netd_http_add(struct MHD_Daemon *mhd, int fd, const struct sockaddr *sa, socklen_t salen)
{
	return MHD_add_connection(mhd, fd, sa, salen) == MHD_YES ? 0 : -EIO;
}
