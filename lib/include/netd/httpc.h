/* httpc.h — a tiny HTTP/1.1 client over a unix socket, for talking to netd.
 *
 * netd-endpoint and netdctl use it to call netd's API; nothing here is
 * general purpose: no TLS, no redirects, no proxies. A connection may be
 * reused for several requests (keep-alive), which the benchmark needs;
 * netd_http_request() is the one-shot form everybody else uses.
 *
 * Errors: negative errno. If netd cannot be reached (no socket, nobody
 * listening) the result is -ENOENT or -ECONNREFUSED and err says
 * "connect /run/netd/netd.sock: ..." with CNI code 11 (try again later).
 * Protocol problems are -EPROTO (code 5), timeouts -ETIMEDOUT (code 11).
 * An HTTP error status is NOT an error here: it is in resp->status.
 */
#ifndef NETD_HTTPC_H
#define NETD_HTTPC_H

#include <stddef.h>

#include "netd/err.h"

#define NETD_HTTPC_BODY_MAX (64u * 1024 * 1024)

struct netd_http_resp {
	int status;		/* 200, 404, ... */
	char *body;		/* NUL-terminated, malloc'd, "" when empty; owned by the caller */
	size_t len;
};

struct netd_httpc;

/* Connect to the unix socket at path. timeout_ms bounds every later call
 * (0 = 10 s). */
int netd_httpc_open(const char *path, int timeout_ms, struct netd_httpc **out, struct netd_err *err);
/* Send one request (body may be NULL; it is sent as application/json) and
 * read the whole answer. On -EPIPE/-ECONNRESET the connection is dead and
 * must be closed. */
int netd_httpc_do(struct netd_httpc *c, const char *method, const char *target, const char *body,
		  struct netd_http_resp *resp, struct netd_err *err);
void netd_httpc_close(struct netd_httpc *c);

/* open + do + close */
int netd_http_request(const char *path, const char *method, const char *target, const char *body,
		      int timeout_ms, struct netd_http_resp *resp, struct netd_err *err);

void netd_http_resp_free(struct netd_http_resp *r);

/* Is rc the "netd is not running" kind of failure? */
static inline int netd_httpc_unreachable(int rc)
{
	return rc == -2 /* ENOENT */ || rc == -111 /* ECONNREFUSED */;
}

#endif
