/* netd-endpoint — chained CNI plugin, last in a conflist: tells netd about
 * the container the previous plugins just wired up (or took down).
 *
 * Config: {"type": "netd-endpoint", "socket": "/run/netd/netd.sock",
 *          "capabilities": {"aliases": true, "portMappings": true}}
 * ADD registers the endpoint and passes prevResult on with one change: its
 * dns names netd's resolver, 127.0.0.11, as the only nameserver (the
 * network's own servers become netd's upstreams for it); DEL
 * unregisters (and succeeds when netd is not running: there is nothing to
 * undo that outlives netd's own state); CHECK asks netd; GC drops this
 * network's endpoints that are not in cni.dev/valid-attachments.
 * docs/netd.md has the details.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/cni.h"
#include "netd/httpc.h"
#include "netd/log.h"

#define DEFAULT_SOCKET "/run/netd/netd.sock"
#define TIMEOUT_MS 10000

static int get_socket(struct cni_ctx *ctx, const char **sock)
{
	*sock = DEFAULT_SOCKET;
	if (cni_conf_str(ctx->config, "socket", sock, &ctx->err) < 0)
		return -EINVAL;
	if ((*sock)[0] != '/')
		return netd_err_set(&ctx->err, -EINVAL, CNI_ERR_INVALID_CONFIG,
				    "field 'socket' must be an absolute path, not '%s'", *sock);
	return 0;
}

static int unreachable(struct cni_ctx *ctx, const char *sock, struct netd_err *e)
{
	memset(&ctx->err, 0, sizeof(ctx->err));
	return netd_err_set(&ctx->err, -EAGAIN, CNI_ERR_TRY_LATER, "netd is not running (%s)", e->msg);
}

/* The error netd answered with, as a CNI error. */
static int netd_refused(struct cni_ctx *ctx, const char *what, const struct netd_http_resp *r)
{
	json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	int code = r->status == 400 ? CNI_ERR_INVALID_CONFIG : r->status == 404 ? NETD_ERR_DRIFT : CNI_ERR_IO;

	netd_err_set(&ctx->err, -EIO, code, "netd refused %s (HTTP %d): %s", what, r->status,
		     msg ? msg : "no reason given");
	json_decref(j);
	return -EIO;
}

/* ---- ADD ---------------------------------------------------------------- */

/* CNI_ARGS K8S_POD_NAME (podman sets it to the container name) wins over
 * args.cni.name / args.name. */
static const char *container_name(struct cni_ctx *ctx)
{
	const char *n = cni_arg(ctx, "K8S_POD_NAME");
	json_t *a = ctx->conf_args, *v;

	if (n && *n)
		return n;
	if (a && (v = json_object_get(json_object_get(a, "cni"), "name")) && json_is_string(v))
		return json_string_value(v);
	if (a && (v = json_object_get(a, "name")) && json_is_string(v))
		return json_string_value(v);
	return "";
}

/* "db" or "db:alias" -> {"name":"db","alias":"alias"} */
static void add_link(json_t *links, const char *spec)
{
	char buf[256], *colon;
	json_t *o;

	snprintf(buf, sizeof(buf), "%s", spec);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = 0;
	o = json_pack("{s:s}", "name", buf);
	if (colon && *colon)
		json_object_set_new(o, "alias", json_string(colon));
	json_array_append_new(links, o);
}

/* "3306/tcp" or "53" (tcp) -> {"port":3306,"protocol":"tcp"}; netd validates
 * (a bad port is sent as 0 and refused there with its message). */
static void add_expose(json_t *out, const char *spec)
{
	const char *slash = strchr(spec, '/');
	char *end;
	long port = strtol(spec, &end, 10);

	if (end == spec || (*end && *end != '/') || port < 0 || port > 65535)
		port = 0;
	json_array_append_new(out, json_pack("{s:i, s:s}", "port", (int)port, "protocol", slash ? slash + 1 : "tcp"));
}

/* A list a runtime may give two ways: CNI_ARGS ENV=a,b,c and/or the config's
 * args.cni.KEY or args.KEY (strings, or objects passed on for netd to
 * validate). Each string goes through add. */
static json_t *arg_list(struct cni_ctx *ctx, const char *env, const char *key,
			void (*add)(json_t *out, const char *spec))
{
	json_t *out = json_array(), *l = NULL, *e;
	const char *s = cni_arg(ctx, env);
	size_t i;

	if (s && *s) {
		char *copy = strdup(s), *save = NULL;

		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
			add(out, t);
		free(copy);
	}
	if (ctx->conf_args) {
		l = json_object_get(json_object_get(ctx->conf_args, "cni"), key);
		if (!l)
			l = json_object_get(ctx->conf_args, key);
	}
	json_array_foreach(l, i, e) {
		if (json_is_string(e))
			add(out, json_string_value(e));
		else
			json_array_append(out, e);
	}
	return out;
}

/* Links: NETD_LINKS=db:database,cache or args links ["db:database", {"name":"cache"}]. */
static json_t *links(struct cni_ctx *ctx)
{
	return arg_list(ctx, "NETD_LINKS", "links", add_link);
}

/* Exposed ports (Docker's EXPOSE, what links may reach on an icc=false
 * network): NETD_EXPOSE=3306/tcp,53/udp or args expose (["3306/tcp"] or objects). */
static json_t *expose(struct cni_ctx *ctx)
{
	return arg_list(ctx, "NETD_EXPOSE", "expose", add_expose);
}

/* runtimeConfig.aliases is keyed by network name (podman); a plain list is
 * accepted too. */
static json_t *aliases(struct cni_ctx *ctx)
{
	json_t *a = cni_runtime_cap(ctx, "aliases");

	if (json_is_object(a))
		a = json_object_get(a, ctx->network);
	return json_is_array(a) ? json_deep_copy(a) : json_array();
}

static json_t *port_mappings(struct cni_ctx *ctx)
{
	static const char *const keep[] = {"hostPort", "containerPort", "protocol", "hostIP"};
	json_t *p = cni_runtime_cap(ctx, "portMappings"), *out = json_array(), *e;
	size_t i;

	json_array_foreach(p, i, e) {
		json_t *o = json_object();

		for (size_t k = 0; k < 4; k++) {
			json_t *v = json_object_get(e, keep[k]);

			if (v && !(json_is_string(v) && !json_string_length(v)))
				json_object_set(o, keep[k], v);
		}
		json_array_append_new(out, o);
	}
	return out;
}

#define RESOLVER "127.0.0.11"

/* The network's dns config: this plugin's own `dns` key, else what the main
 * plugin put in its result. */
static json_t *net_dns(struct cni_ctx *ctx, json_t *prevj, const char *key)
{
	json_t *v = json_object_get(json_object_get(ctx->config, "dns"), key);

	return v ? v : json_object_get(json_object_get(prevj, "dns"), key);
}

/* The servers netd forwards to for this network (not the resolver itself,
 * which a repeated ADD may see in prevResult). */
static json_t *upstreams(struct cni_ctx *ctx, json_t *prevj)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(net_dns(ctx, prevj, "nameservers"), i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), RESOLVER))
			json_array_append(out, e);
	return out;
}

/* prevResult, its dns naming the resolver, with the network's search,
 * options and domain. */
static json_t *result_with_resolver(struct cni_ctx *ctx, json_t *prevj)
{
	json_t *out = json_deep_copy(prevj), *dns = json_pack("{s:[s]}", "nameservers", RESOLVER);
	static const char *const keep[] = {"domain", "search", "options"};

	for (size_t i = 0; i < 3; i++) {
		json_t *v = net_dns(ctx, prevj, keep[i]);

		if (v)
			json_object_set(dns, keep[i], v);
	}
	json_object_set_new(out, "dns", dns);
	return out;
}

static int cmd_add(struct cni_ctx *ctx)
{
	const struct cni_result *prev = ctx->prev;
	const char *sock, *mac = "";
	json_t *body, *ips, *prevj;
	struct netd_http_resp r;
	struct netd_err e = {0};
	char *s;
	int idx, rc;

	if ((rc = get_socket(ctx, &sock)) < 0)
		return rc;
	prevj = json_object_get(ctx->config, "prevResult");
	if (!prev || !json_is_object(prevj))
		return netd_err_set(&ctx->err, -EINVAL, CNI_ERR_INVALID_CONFIG,
				    "netd-endpoint is a chained plugin: it needs a prevResult "
				    "(put it after the main plugin in a conflist)");
	idx = cni_result_find_iface(prev, ctx->ifname, true);
	if (idx >= 0)
		mac = prev->ifaces[idx].mac;
	ips = json_array();
	for (size_t i = 0; i < prev->n_ips; i++) {
		char buf[NETD_PREFIX_STRLEN];

		if (idx >= 0 && prev->ips[i].iface >= 0 && prev->ips[i].iface != idx)
			continue;
		json_array_append_new(ips, json_string(netd_prefix_str(&prev->ips[i].address, buf)));
	}
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:{s:o}}",
			 "containerID", ctx->container_id, "name", container_name(ctx), "netns", ctx->netns,
			 "network", ctx->network, "ifname", ctx->ifname, "ips", ips, "mac", mac,
			 "aliases", aliases(ctx), "portMappings", port_mappings(ctx), "links", links(ctx),
			 "dns", "nameservers", upstreams(ctx, prevj));
	if (body) {
		json_t *x = expose(ctx);

		if (json_array_size(x))
			json_object_set(body, "expose", x);
		json_decref(x);
	}
	s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!s)
		return netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	rc = netd_http_request(sock, "POST", "/v1/endpoints", s, TIMEOUT_MS, &r, &e);
	free(s);
	if (rc < 0) {
		if (netd_httpc_unreachable(rc))
			return unreachable(ctx, sock, &e);
		memcpy(&ctx->err, &e, sizeof(e));
		return rc;
	}
	if (r.status != 200 && r.status != 201) {
		rc = netd_refused(ctx, "the endpoint", &r);
		netd_http_resp_free(&r);
		return rc;
	}
	netd_http_resp_free(&r);
	ctx->output = result_with_resolver(ctx, prevj);
	if (!json_object_get(ctx->output, "cniVersion"))
		json_object_set_new(ctx->output, "cniVersion", json_string(ctx->version));
	return 0;
}

/* ---- DEL / CHECK -------------------------------------------------------- */

static int ep_target(struct cni_ctx *ctx, const char *cid, const char *ifname, char *buf, size_t size)
{
	int n = snprintf(buf, size, "/v1/endpoints/%s:%s:%s", ctx->network, cid, ifname);

	if (n < 0 || (size_t)n >= size)
		return netd_err_set(&ctx->err, -ENAMETOOLONG, CNI_ERR_INVALID_ENV, "container id too long");
	return 0;
}

/* One request about this attachment's endpoint. netd not running is code 11
 * (try later), but for DEL, which then has nothing to unregister: 1. */
static int ep_request(struct cni_ctx *ctx, const char *method, struct netd_http_resp *r)
{
	struct netd_err e = {0};
	const char *sock;
	char target[512];
	int rc;

	if ((rc = get_socket(ctx, &sock)) < 0 ||
	    (rc = ep_target(ctx, ctx->container_id, ctx->ifname, target, sizeof(target))) < 0)
		return rc;
	if ((rc = netd_http_request(sock, method, target, NULL, TIMEOUT_MS, r, &e)) == 0)
		return 0;
	if (!netd_httpc_unreachable(rc)) {
		memcpy(&ctx->err, &e, sizeof(e));
		return rc;
	}
	if (ctx->cmd != CNI_CMD_DEL)
		return unreachable(ctx, sock, &e);
	log_warn("DEL %s: netd is not running (%s); nothing to unregister", ctx->container_id, e.msg);
	return 1;
}

static int cmd_del(struct cni_ctx *ctx)
{
	struct netd_http_resp r;
	int rc = ep_request(ctx, "DELETE", &r);

	if (rc)
		return rc < 0 ? rc : 0;
	if (r.status != 204 && r.status != 200 && r.status != 404)
		rc = netd_refused(ctx, "to unregister the endpoint", &r);
	netd_http_resp_free(&r);
	return rc;
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct netd_http_resp r;
	int rc = ep_request(ctx, "GET", &r);

	if (rc < 0)
		return rc;
	if (r.status == 404)
		rc = netd_err_set(&ctx->err, -ENOENT, NETD_ERR_DRIFT, "netd has no endpoint for container %s "
				  "on network %s (%s)", ctx->container_id, ctx->network, ctx->ifname);
	else if (r.status != 200)
		rc = netd_refused(ctx, "the check", &r);
	netd_http_resp_free(&r);
	return rc;
}

/* ---- GC / STATUS -------------------------------------------------------- */

static int cmd_gc(struct cni_ctx *ctx)
{
	json_t *list, *ep;
	struct netd_httpc *c;
	struct netd_http_resp r;
	struct netd_err e = {0};
	const char *sock;
	char target[512];
	size_t i, failed = 0;
	int rc;

	if ((rc = get_socket(ctx, &sock)) < 0)
		return rc;
	if ((rc = netd_httpc_open(sock, TIMEOUT_MS, &c, &e)) < 0) {
		if (netd_httpc_unreachable(rc)) {
			log_warn("GC: netd is not running (%s); nothing to collect", e.msg);
			return 0;
		}
		memcpy(&ctx->err, &e, sizeof(e));
		return rc;
	}
	snprintf(target, sizeof(target), "/v1/endpoints?network=%s", ctx->network);
	if ((rc = netd_httpc_do(c, "GET", target, NULL, &r, &e)) < 0) {
		memcpy(&ctx->err, &e, sizeof(e));
		netd_httpc_close(c);
		return rc;
	}
	list = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
	netd_http_resp_free(&r);
	json_array_foreach(list, i, ep) {
		const char *cid = json_string_value(json_object_get(ep, "containerID"));
		const char *ifname = json_string_value(json_object_get(ep, "ifname"));

		if (!cid || !ifname || cni_attachment_valid(ctx, cid, ifname))
			continue;
		/* keep going after an error, report them together */
		if (ep_target(ctx, cid, ifname, target, sizeof(target)) < 0 ||
		    netd_httpc_do(c, "DELETE", target, NULL, &r, &e) < 0) {
			failed++;
			continue;
		}
		if (r.status != 204)
			failed++;
		netd_http_resp_free(&r);
	}
	json_decref(list);
	netd_httpc_close(c);
	if (failed)
		return netd_err_set(&ctx->err, -EIO, CNI_ERR_IO, "GC: %zu stale endpoints could not be "
				    "removed from netd%s%s", failed, e.msg[0] ? ": " : "", e.msg);
	return 0;
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct netd_http_resp r;
	struct netd_err e = {0};
	const char *sock;
	int rc;

	if ((rc = get_socket(ctx, &sock)) < 0)
		return rc;
	if ((rc = netd_http_request(sock, "GET", "/v1/status", NULL, TIMEOUT_MS, &r, &e)) < 0)
		/* 50: "the plugin is not available" (spec 1.1 STATUS) */
		return netd_err_set(&ctx->err, rc, 50, "netd is not running (%s)", e.msg);
	rc = r.status == 200 ? 0 : netd_err_set(&ctx->err, -EIO, 50, "netd answered HTTP %d", r.status);
	netd_http_resp_free(&r);
	return rc;
}

CNI_PLUGIN_MAIN("netd-endpoint", cmd_add, cmd_del, cmd_check, cmd_gc, cmd_status)
