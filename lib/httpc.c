#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "netd/httpc.h"

struct netd_httpc {
	int fd;
	int timeout_ms;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/* bytes read past the end of the previous answer */
	char *buf;
	size_t len, cap;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int netd_httpc_open(const char *path, int timeout_ms, struct netd_httpc **out, struct netd_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct netd_httpc *c;

	if (strlen(path) >= sizeof(sa.sun_path))
		return netd_err_set(err, -ENAMETOOLONG, CNI_ERR_INVALID_CONFIG, "socket path too long: %s", path);
	if (!(c = calloc(1, sizeof(*c))))
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	strcpy(sa.sun_path, path);
	strcpy(c->path, path);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		netd_err_set(err, rc, CNI_ERR_TRY_LATER, "connect %s: %s", path, strerror(-rc));
		netd_httpc_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void netd_httpc_close(struct netd_httpc *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

void netd_http_resp_free(struct netd_http_resp *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

static int wait_fd(struct netd_httpc *c, short events, long long deadline, struct netd_err *err)
{
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = events};
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return netd_err_set(err, -ETIMEDOUT, CNI_ERR_TRY_LATER, "%s: no answer from netd "
					    "within %d ms", c->path, c->timeout_ms);
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return netd_err_set(err, -errno, CNI_ERR_IO, "poll %s: %s", c->path, strerror(errno));
	}
}

static int send_all(struct netd_httpc *c, const char *p, size_t n, long long deadline, struct netd_err *err)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(c, POLLOUT, deadline, err);

			if (rc < 0)
				return rc;
			continue;
		}
		if (w < 0)
			return netd_err_set(err, -errno, CNI_ERR_IO, "send to %s: %s", c->path, strerror(errno));
		p += w;
		n -= w;
	}
	return 0;
}

/* Read more into c->buf; 0 on EOF, >0 bytes, <0 error. */
static ssize_t fill(struct netd_httpc *c, long long deadline, struct netd_err *err)
{
	for (;;) {
		ssize_t r;

		if (c->len + 4096 + 1 > c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 8192;
			char *p;

			if (cap > NETD_HTTPC_BODY_MAX + 65536)
				return netd_err_set(err, -EMSGSIZE, CNI_ERR_IO, "%s: answer too large", c->path);
			if (!(p = realloc(c->buf, cap)))
				return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
			c->buf = p;
			c->cap = cap;
		}
		r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(c, POLLIN, deadline, err);

			if (rc < 0)
				return rc;
			continue;
		}
		if (r < 0)
			return netd_err_set(err, -errno, CNI_ERR_IO, "read from %s: %s", c->path, strerror(errno));
		c->len += r;
		c->buf[c->len] = 0;
		return r;
	}
}

static void consume(struct netd_httpc *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	if (c->buf)
		c->buf[c->len] = 0;
}

static int proto(struct netd_httpc *c, struct netd_err *err, const char *what)
{
	return netd_err_set(err, -EPROTO, CNI_ERR_IO, "%s: bad HTTP answer (%s)", c->path, what);
}

/* Find a header's value in the header block [h, end). */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);

	for (const char *line = strstr(h, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
		const char *l = line + 2, *v, *e;

		if (l >= end || strncasecmp(l, name, nl) || l[nl] != ':')
			continue;
		v = l + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = strstr(v, "\r\n");
		*vlen = e ? (size_t)(e - v) : strlen(v);
		return v;
	}
	return NULL;
}

static int append(struct netd_http_resp *r, const char *p, size_t n)
{
	char *b;

	if (r->len + n > NETD_HTTPC_BODY_MAX || !(b = realloc(r->body, r->len + n + 1)))
		return -ENOMEM;
	memcpy(b + r->len, p, n);
	r->len += n;
	b[r->len] = 0;
	r->body = b;
	return 0;
}

int netd_httpc_do(struct netd_httpc *c, const char *method, const char *target, const char *body,
		  struct netd_http_resp *resp, struct netd_err *err)
{
	long long deadline = now_ms() + c->timeout_ms;
	char head[1024];
	const char *v, *hend;
	size_t blen = body ? strlen(body) : 0, vlen, hlen;
	bool chunked = false, no_body, has_len = false;
	unsigned long long clen = 0;
	int n, rc;

	memset(resp, 0, sizeof(*resp));
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: netd\r\nUser-Agent: netd-httpc\r\n%s"
		     "Content-Length: %zu\r\n\r\n", method, target,
		     body ? "Content-Type: application/json\r\n" : "", blen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return netd_err_set(err, -ENAMETOOLONG, NETD_ERR_INTERNAL, "request target too long");
	if ((rc = send_all(c, head, n, deadline, err)) < 0 || (rc = send_all(c, body, blen, deadline, err)) < 0)
		return rc;

	while (!(hend = strstr(c->buf ? c->buf : "", "\r\n\r\n"))) {
		ssize_t r = fill(c, deadline, err);

		if (r < 0)
			return (int)r;
		if (!r)
			return c->len ? proto(c, err, "truncated header") :
			       netd_err_set(err, -ECONNRESET, CNI_ERR_IO, "%s: netd closed the connection",
					    c->path);
		if (c->len > 65536)
			return proto(c, err, "header too large");
	}
	hlen = hend - c->buf + 4;
	if (sscanf(c->buf, "HTTP/1.%*1[01] %3d", &resp->status) != 1 || resp->status < 100)
		return proto(c, err, "status line");
	no_body = !strcmp(method, "HEAD") || resp->status == 204 || resp->status == 304 || resp->status < 200;
	if ((v = header(c->buf, hend + 2, "Transfer-Encoding", &vlen)) && vlen >= 7 &&
	    !strncasecmp(v + vlen - 7, "chunked", 7))
		chunked = true;
	else if ((v = header(c->buf, hend + 2, "Content-Length", &vlen))) {
		clen = strtoull(v, NULL, 10);
		has_len = true;
		if (clen > NETD_HTTPC_BODY_MAX)
			return proto(c, err, "body too large");
	}
	consume(c, hlen);
	resp->body = strdup("");
	if (!resp->body)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	if (no_body)
		return 0;
	if (chunked) {
		for (;;) {
			char *eol;
			unsigned long long sz;

			while (!(eol = strstr(c->buf ? c->buf : "", "\r\n"))) {
				ssize_t r = fill(c, deadline, err);

				if (r <= 0)
					goto trunc;
			}
			sz = strtoull(c->buf, NULL, 16);
			if (sz > NETD_HTTPC_BODY_MAX)
				return proto(c, err, "chunk too large");
			consume(c, eol - c->buf + 2);
			while (c->len < sz + 2) {
				ssize_t r = fill(c, deadline, err);

				if (r <= 0)
					goto trunc;
			}
			if (!sz) {
				/* no trailers from netd: just the final CRLF */
				consume(c, 2);
				return 0;
			}
			if (append(resp, c->buf, sz) < 0)
				return netd_err_set(err, -ENOMEM, CNI_ERR_IO, "answer too large");
			consume(c, sz + 2);
		}
	}
	while (!has_len || c->len < clen) {
		ssize_t r = fill(c, deadline, err);

		if (r < 0) {
			rc = (int)r;
			goto fail;
		}
		if (!r) {
			if (has_len)
				goto trunc;
			break;
		}
	}
	if (!has_len)
		clen = c->len;
	if (append(resp, c->buf, clen) < 0)
		return netd_err_set(err, -ENOMEM, CNI_ERR_IO, "answer too large");
	consume(c, clen);
	return 0;
trunc:
	rc = proto(c, err, "truncated body");
fail:
	netd_http_resp_free(resp);
	return rc < 0 ? rc : -EPROTO;
}

int netd_http_request(const char *path, const char *method, const char *target, const char *body,
		      int timeout_ms, struct netd_http_resp *resp, struct netd_err *err)
{
	struct netd_httpc *c;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if ((rc = netd_httpc_open(path, timeout_ms, &c, err)) < 0)
		return rc;
	rc = netd_httpc_do(c, method, target, body, resp, err);
	netd_httpc_close(c);
	return rc;
}
