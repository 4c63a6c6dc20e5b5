/* http.c — libmicrohttpd glue: collects the body, checks the peer, calls the
 * API, queues the answer. MHD runs without threads: main.c's epoll loop calls
 * MHD_run when MHD's own epoll fd is readable or its timeout expires. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

static enum MHD_Result send_resp(struct netd_daemon *d, struct MHD_Connection *c, struct req_ctx *rc,
				 const char *method, const char *url, struct api_resp *r)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	size_t len = r->body ? strlen(r->body) : 0;

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
	(void)d;
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
	req.body = rc->body;
	req.body_len = rc->len;
	netd_api_handle(d, &req, &r);
	(void)version;
	return send_resp(d, c, rc, method, url, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct req_ctx *rc = *con_cls;

	if (rc) {
		free(rc->body);
		free(rc);
		*con_cls = NULL;
	}
}

struct MHD_Daemon *netd_http_start(struct netd_daemon *d, int listen_fd, struct netd_err *err)
{
	struct MHD_Daemon *mhd;

	mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			       on_request, d,
			       MHD_OPTION_LISTEN_SOCKET, listen_fd,
			       MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
			       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
			       MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
			       MHD_OPTION_END);
	if (!mhd)
		netd_err_set(err, -EIO, CNI_ERR_IO, "cannot start the HTTP server on the API socket");
	return mhd;
}
