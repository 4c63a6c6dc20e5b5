/* api.c — the HTTP API as a pure function: request in, response out.
 *
 *   GET    /v1/status
 *   GET    /v1/networks                 POST /v1/networks
 *   GET    /v1/networks/NAME            DELETE /v1/networks/NAME
 *   GET    /v1/endpoints[?network=N]    POST /v1/endpoints
 *   GET    /v1/endpoints/ID             DELETE /v1/endpoints/ID (idempotent)
 *   GET    /v1/dns?name=N&from=C[&type=T]   what container C would get for N, and why
 *   GET    /metrics
 *
 * docs/netd.md is the reference for the bodies.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/vfs.h>

#include "daemon.h"
#include "fw.h"
#include "netd/netns.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static const char JSON_TYPE[] = "application/json";

static char *json_string_escape_dup(const char *msg)
{
	json_t *j = json_pack("{s:s}", "error", msg);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

void netd_api_error(struct api_resp *resp, int status, const char *fmt, ...)
{
	char msg[NETD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* messages echo client input, which need not be UTF-8: keep them ASCII */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	free(resp->body);
	resp->status = status;
	resp->content_type = JSON_TYPE;
	resp->body = json_string_escape_dup(msg);
}

static void from_err(struct api_resp *resp, const struct netd_err *err)
{
	netd_api_error(resp, netd_err_http_status(err->code), "%s",
		       err->msg[0] ? err->msg : "internal error");
}

/* A growing buffer for listings, so 10,000 records are concatenated rather
 * than parsed and re-serialized. */
struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_add(b, tmp, n < 0 ? 0 : (size_t)n >= sizeof(tmp) ? sizeof(tmp) - 1 : (size_t)n);
}

static void ok(struct api_resp *resp, int status, struct buf *b)
{
	if (b->oom) {
		free(b->p);
		netd_api_error(resp, 500, "out of memory");
		return;
	}
	resp->status = status;
	resp->content_type = JSON_TYPE;
	resp->body = b->p;
}

/* network record + live endpoint count: the stored json ends in '}' */
static void net_json(struct buf *b, const struct netd_net *n)
{
	buf_add(b, n->json, strlen(n->json) - 1);
	buf_fmt(b, ",\"endpoints\":%zu}", n->n_eps);
}

static json_t *parse_body(const struct api_req *req, struct api_resp *resp)
{
	json_error_t jerr;
	json_t *j;

	if (!req->body_len) {
		netd_api_error(resp, 400, "request body is empty; expected a JSON object");
		return NULL;
	}
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!j) {
		netd_api_error(resp, 400, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
			       jerr.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		netd_api_error(resp, 400, "body must be a JSON object");
		return NULL;
	}
	return j;
}

static void method_not_allowed(struct api_resp *resp, const char *allow)
{
	netd_api_error(resp, 405, "method not allowed; use %s", allow);
	resp->allow = allow;
}

static void get_status(struct netd_daemon *d, struct api_resp *resp)
{
	struct buf b = {0};
	json_t *j = json_pack("{s:s, s:i, s:I, s:I, s:I, s:s, s:s}", "version", NETD_VERSION,
			      "pid", (int)getpid(), "uptime", (json_int_t)(time(NULL) - d->stats.started),
			      "endpoints", (json_int_t)d->state->n_eps, "networks", (json_int_t)d->state->n_nets,
			      "socket", d->cfg.socket, "stateDir", d->state->dir ? d->state->dir : "");
	char *s;

	if (j) {
		json_t *ws = json_array();
		const char *why;
		size_t n = d->dns_unserved ? d->dns_unserved(d, &why) : 0;

		if (d->fw) {
			const char *w = netd_fw_warning(d->fw);

			json_object_set_new(j, "publishedPorts", json_integer((json_int_t)netd_fw_published(d->fw)));
			if (w[0])
				json_array_append_new(ws, json_string(w));
		}
		/* a container whose resolver is 127.0.0.11 with nobody there has no DNS at all */
		if (n)
			json_array_append_new(ws, json_sprintf("dns: %zu endpoints have no resolver in their container: %s",
							      n, why));
		json_object_set_new(j, "warnings", ws);
	}
	if (j && d->dns_status)
		d->dns_status(d, j);
	s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (s)
		buf_str(&b, s);
	else
		b.oom = true;
	free(s);
	ok(resp, 200, &b);
}

static void metrics(struct netd_daemon *d, struct api_resp *resp)
{
	struct buf b = {0};

	buf_str(&b, "# HELP netd_endpoints Endpoints registered.\n# TYPE netd_endpoints gauge\n");
	buf_fmt(&b, "netd_endpoints %zu\n", d->state->n_eps);
	buf_str(&b, "# HELP netd_networks Networks known.\n# TYPE netd_networks gauge\n");
	buf_fmt(&b, "netd_networks %zu\n", d->state->n_nets);
	buf_str(&b, "# HELP netd_api_requests_total API requests answered, by HTTP status.\n"
		    "# TYPE netd_api_requests_total counter\n");
	for (int c = 100; c < 600; c++)
		if (d->stats.by_code[c])
			buf_fmt(&b, "netd_api_requests_total{code=\"%d\"} %llu\n", c, d->stats.by_code[c]);
	buf_str(&b, "# HELP netd_state_journal_records Endpoint changes journalled since the last snapshot.\n"
		    "# TYPE netd_state_journal_records gauge\n");
	buf_fmt(&b, "netd_state_journal_records %zu\n", d->state->j_records);
	buf_str(&b, "# HELP netd_state_compactions_total Snapshots written (journal compactions).\n"
		    "# TYPE netd_state_compactions_total counter\n");
	buf_fmt(&b, "netd_state_compactions_total %lu\n", d->state->n_compactions);
	buf_str(&b, "# HELP netd_state_last_compaction_seconds Duration of the last compaction (in a child).\n"
		    "# TYPE netd_state_last_compaction_seconds gauge\n");
	buf_fmt(&b, "netd_state_last_compaction_seconds %.3f\n", d->state->last_compact_ms / 1000);
	buf_str(&b, "# HELP netd_state_warnings_total State problems logged (torn journal tail, failed compaction).\n"
		    "# TYPE netd_state_warnings_total counter\n");
	buf_fmt(&b, "netd_state_warnings_total %lu\n", d->state->n_warnings);
	buf_str(&b, "# HELP netd_api_connections API connections open.\n# TYPE netd_api_connections gauge\n");
	buf_fmt(&b, "netd_api_connections %zu\n", d->conns.n);
	buf_str(&b, "# HELP netd_api_connections_evicted_total Connections closed to make room for a new one "
		    "(per-uid or total bound).\n# TYPE netd_api_connections_evicted_total counter\n");
	buf_fmt(&b, "netd_api_connections_evicted_total %llu\n", d->conns.evicted);
	buf_str(&b, "# HELP netd_api_connections_expired_total Connections closed for not sending a whole request "
		    "in time.\n# TYPE netd_api_connections_expired_total counter\n");
	buf_fmt(&b, "netd_api_connections_expired_total %llu\n", d->conns.expired);
	buf_str(&b, "# HELP netd_uptime_seconds Seconds since netd started.\n# TYPE netd_uptime_seconds gauge\n");
	buf_fmt(&b, "netd_uptime_seconds %lld\n", (long long)(time(NULL) - d->stats.started));
	if (d->dns_metrics) {
		char *m = d->dns_metrics(d);

		if (m)
			buf_str(&b, m);
		free(m);
	}
	ok(resp, 200, &b);
	resp->content_type = "text/plain; version=0.0.4";
}

static void networks(struct netd_daemon *d, const struct api_req *req, struct api_resp *resp)
{
	struct buf b = {0};

	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) {
		buf_str(&b, "[");
		for (struct netd_net *n = d->state->nets; n; n = n->next) {
			if (n != d->state->nets)
				buf_str(&b, ",");
			net_json(&b, n);
		}
		buf_str(&b, "]");
		ok(resp, 200, &b);
	} else if (!strcmp(req->method, "POST")) {
		struct netd_err err = {0};
		struct netd_net *n;
		json_t *j = parse_body(req, resp);

		if (!j)
			return;
		if (netd_net_from_json(j, &n, &err) < 0 || netd_state_put_net(d->state, n, &err) < 0) {
			json_decref(j);
			from_err(resp, &err);
			return;
		}
		json_decref(j);
		/* its options (icc) may change what the bridge table holds */
		if (d->fw)
			netd_fw_sync(d->fw, d->state, &(struct netd_err){0});
		net_json(&b, n);
		ok(resp, 201, &b);
	} else {
		method_not_allowed(resp, "GET, HEAD, POST");
	}
}

static void network(struct netd_daemon *d, const struct api_req *req, const char *name,
		    struct api_resp *resp)
{
	struct netd_err err = {0};
	struct netd_net *n;
	struct buf b = {0};

	if (!netd_name_valid(name)) {
		netd_api_error(resp, 400, "invalid network name (must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63})");
		return;
	}
	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) {
		if (!(n = netd_state_get_net(d->state, name))) {
			netd_api_error(resp, 404, "no network '%s'", name);
			return;
		}
		net_json(&b, n);
		ok(resp, 200, &b);
	} else if (!strcmp(req->method, "DELETE")) {
		if (netd_state_del_net(d->state, name, &err) < 0) {
			from_err(resp, &err);
			return;
		}
		resp->status = 204;
	} else {
		method_not_allowed(resp, "GET, HEAD, DELETE");
	}
}

/* A registration's netns must name a network namespace when it arrives: netd
 * will open DNS sockets in it, and a record whose netns is gone is dropped at
 * the next start anyway. statfs comes before open, so that a path naming a FIFO
 * or a device is refused without being opened (which could block or act). */
static int check_netns(const char *path, struct netd_err *err)
{
	struct netd_err nerr = {0};
	struct statfs sfs;
	int fd;

	for (const char *c = path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "field 'netns' must not contain control characters");
	if (statfs(path, &sfs) < 0)
		return netd_err_set(err, -errno, CNI_ERR_INVALID_CONFIG, "netns %s: %s", path, strerror(errno));
	if ((unsigned long)sfs.f_type != NSFS_MAGIC)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "netns %s is not a network namespace", path);
	if ((fd = netns_open(path, &nerr)) < 0)
		return netd_err_set(err, fd, CNI_ERR_INVALID_CONFIG, "%s", nerr.msg);
	close(fd);
	return 0;
}

/* DELETE /v1/endpoints/ID's work: idempotent, like CNI DEL. A failed table
 * change is repaired from the state at the next tick (fw.c); the delete
 * itself goes on. */
static int ep_delete(struct netd_daemon *d, const char *id, struct netd_err *err)
{
	struct netd_ep *ep;

	if (d->fw && (ep = netd_state_get_ep(d->state, id)))
		netd_fw_del(d->fw, ep, &(struct netd_err){0});
	if (netd_state_del_ep(d->state, id, err) < 0 && err->code != NETD_ERR_NOT_FOUND) {
		if (d->fw)
			netd_fw_sync(d->fw, d->state, &(struct netd_err){0});
		return -1;
	}
	if (d->on_ep_del)
		d->on_ep_del(d, id);
	return 0;
}

size_t netd_api_reap_gone(struct netd_daemon *d)
{
	char **ids = NULL;
	size_t n = 0, cap = 0, done = 0;

	/* ids first: a delete changes the list being walked */
	for (const struct netd_ep *e = d->state->first; e; e = e->next) {
		char **nv;

		if (access(e->netns, F_OK) == 0 || errno != ENOENT)
			continue;
		if (!(nv = netd_grow(ids, &cap, n, sizeof(*nv), 16)))
			break;
		ids = nv;
		if (!(ids[n] = strdup(e->id)))
			break;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (ep_delete(d, ids[i], &(struct netd_err){0}) == 0)
			done++;
		free(ids[i]);
	}
	free(ids);
	return done;
}

static void endpoints(struct netd_daemon *d, const struct api_req *req, struct api_resp *resp)
{
	struct buf b = {0};

	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) {
		bool first = true;

		if (req->q_network && !netd_name_valid(req->q_network)) {
			netd_api_error(resp, 400, "invalid network name in ?network=");
			return;
		}
		buf_str(&b, "[");
		for (struct netd_ep *e = d->state->first; e; e = e->next) {
			if (req->q_network && strcmp(e->network, req->q_network))
				continue;
			if (!first)
				buf_str(&b, ",");
			first = false;
			buf_str(&b, e->json);
		}
		buf_str(&b, "]");
		ok(resp, 200, &b);
	} else if (!strcmp(req->method, "POST")) {
		struct netd_err err = {0};
		struct netd_ep *ep;
		bool replaced = false;
		json_t *j = parse_body(req, resp);
		int rc;

		if (!j)
			return;
		if (netd_ep_from_json(j, &ep, &err) < 0) {
			json_decref(j);
			from_err(resp, &err);
			return;
		}
		json_decref(j);
		/* published ports and isolation before the state: a refusal changes
		 * nothing. A port held by a container that died without a DEL is
		 * not a conflict: such holders go first, then one more try. */
		rc = check_netns(ep->netns, &err);
		if (rc == 0 && d->fw) {
			rc = netd_fw_put(d->fw, ep, netd_state_get_ep(d->state, ep->id), &err);
			if (rc < 0 && err.code == NETD_ERR_IN_USE && netd_api_reap_gone(d)) {
				err = (struct netd_err){0};
				rc = netd_fw_put(d->fw, ep, netd_state_get_ep(d->state, ep->id), &err);
			}
		}
		if (rc < 0) {
			netd_ep_free(ep);
			from_err(resp, &err);
			return;
		}
		/* ep belongs to the state from here, even on failure */
		if (netd_state_put_ep(d->state, ep, &replaced, &err) < 0) {
			if (d->fw)
				netd_fw_sync(d->fw, d->state, &(struct netd_err){0});
			from_err(resp, &err);
			return;
		}
		if (d->on_ep_put)
			d->on_ep_put(d, ep);
		buf_str(&b, ep->json);
		ok(resp, replaced ? 200 : 201, &b);
	} else {
		method_not_allowed(resp, "GET, HEAD, POST");
	}
}

static bool ep_id_valid(const char *id)
{
	char buf[256], *net, *cid, *ifname;

	if (strlen(id) >= sizeof(buf))
		return false;
	strcpy(buf, id);
	net = buf;
	if (!(cid = strchr(net, ':')))
		return false;
	*cid++ = 0;
	if (!(ifname = strchr(cid, ':')))
		return false;
	*ifname++ = 0;
	return netd_name_valid(net) && netd_cid_valid(cid) && netd_ifname_valid(ifname);
}

static void endpoint(struct netd_daemon *d, const struct api_req *req, const char *id, struct api_resp *resp)
{
	struct netd_err err = {0};
	struct netd_ep *ep;
	struct buf b = {0};

	if (!ep_id_valid(id)) {
		netd_api_error(resp, 400, "invalid endpoint id (expected NETWORK:CONTAINERID:IFNAME)");
		return;
	}
	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) {
		if (!(ep = netd_state_get_ep(d->state, id))) {
			netd_api_error(resp, 404, "no endpoint '%s'", id);
			return;
		}
		buf_str(&b, ep->json);
		ok(resp, 200, &b);
	} else if (!strcmp(req->method, "DELETE")) {
		if (ep_delete(d, id, &err) < 0) {
			from_err(resp, &err);
			return;
		}
		resp->status = 204;
	} else {
		method_not_allowed(resp, "GET, HEAD, DELETE");
	}
}

/* The asker is a container by name or id, or one endpoint by id; a
 * container's endpoints share its netns, which is what a real query's
 * listener knows it by. */
static void dns(struct netd_daemon *d, const struct api_req *req, struct api_resp *resp)
{
	const char *from = req->q_from;
	const struct netd_ep *asker = NULL;
	struct netd_err err = {0};
	json_t *j, *nets;
	size_t i;
	json_t *v;
	char *body;

	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		method_not_allowed(resp, "GET, HEAD");
		return;
	}
	if (!req->q_name || !*req->q_name) {
		netd_api_error(resp, 400, "name= is required: the name to look up");
		return;
	}
	if (!from || !*from) {
		netd_api_error(resp, 400, "from= is required: the asking container's name or id");
		return;
	}
	for (const struct netd_ep *e = d->state->first; e; e = e->next) {
		if (strcmp(e->name, from) && strcmp(e->container_id, from) && strcmp(e->id, from))
			continue;
		if (!asker) {
			asker = e;
		} else if (strcmp(asker->netns, e->netns)) {
			netd_api_error(resp, 409, "'%.200s' names containers in more than one netns (%.200s, %.200s): "
				       "ask with a container id", from, asker->netns, e->netns);
			return;
		}
	}
	if (!asker) {
		netd_api_error(resp, 404, "no container '%.200s' is registered with netd", from);
		return;
	}
	if (!d->dns_explain) {
		netd_api_error(resp, 503, "netd's resolver is not running");
		return;
	}
	if (d->dns_explain(d, asker->netns, req->q_name, req->q_type, &j, &err) < 0) {
		from_err(resp, &err);
		return;
	}
	nets = json_array();
	for (const struct netd_ep *e = d->state->first; e; e = e->next) {
		if (strcmp(e->netns, asker->netns))
			continue;
		json_array_foreach(nets, i, v)
			if (!strcmp(json_string_value(v), e->network))
				break;
		if (i == json_array_size(nets))
			json_array_append_new(nets, json_string(e->network));
	}
	json_object_set_new(j, "from", json_string(from));
	json_object_set_new(j, "container", json_string(asker->name));
	json_object_set_new(j, "container_id", json_string(asker->container_id));
	json_object_set_new(j, "netns", json_string(asker->netns));
	json_object_set_new(j, "networks", nets);
	body = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!body) {
		netd_api_error(resp, 500, "out of memory");
		return;
	}
	resp->status = 200;
	resp->content_type = JSON_TYPE;
	resp->body = body;
}

void netd_api_handle(struct netd_daemon *d, const struct api_req *req, struct api_resp *resp)
{
	const char *p = req->path;
	bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");

	memset(resp, 0, sizeof(*resp));
	if (!strcmp(p, "/metrics") || !strcmp(p, "/v1/status")) {
		if (!get)
			method_not_allowed(resp, "GET, HEAD");
		else if (p[1] == 'm')
			metrics(d, resp);
		else
			get_status(d, resp);
	} else if (!strcmp(p, "/v1/networks") || !strcmp(p, "/v1/networks/")) {
		networks(d, req, resp);
	} else if (!strncmp(p, "/v1/networks/", 13) && !strchr(p + 13, '/')) {
		network(d, req, p + 13, resp);
	} else if (!strcmp(p, "/v1/endpoints") || !strcmp(p, "/v1/endpoints/")) {
		endpoints(d, req, resp);
	} else if (!strncmp(p, "/v1/endpoints/", 14) && !strchr(p + 14, '/')) {
		endpoint(d, req, p + 14, resp);
	} else if (!strcmp(p, "/v1/dns")) {
		dns(d, req, resp);
	} else {
		netd_api_error(resp, 404, "no such resource: %.200s", p);
	}
	if (d->stats.by_code[resp->status] < ~0ULL)
		d->stats.by_code[resp->status]++;
}
