#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>

#include "netd/ifconf.h"

/* The gateway of the first address of `family` that has one, or NULL. */
static const struct netd_addr *family_gateway(const struct cni_result *ipam, int family)
{
	for (size_t i = 0; ipam && i < ipam->n_ips; i++)
		if (ipam->ips[i].gateway.family == family)
			return &ipam->ips[i].gateway;
	return NULL;
}

static bool lists_default(const struct cni_route *v, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].dst.addr.family == family && v[i].dst.len == 0 && (!v[i].table || v[i].table == 254))
			return true;
	return false;
}

/* The routes the interface gets, as installed and as reported: IPAM's own,
 * each without a gw given the gateway of IPAM's first address of its family
 * (the spec's "default gateway"; the reference plugins read it so too), then
 * with default_routes one default route per family via that gateway, unless
 * IPAM lists a default route of that family already. *out is malloc'ed. */
static int plan_routes(const struct cni_result *ipam, bool default_routes, struct cni_route **out, size_t *n)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	size_t k = 0, cap = (ipam ? ipam->n_routes : 0) + 2;
	struct cni_route *v = calloc(cap, sizeof(*v));
	const struct netd_addr *gw;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; ipam && i < ipam->n_routes; i++) {
		v[k] = ipam->routes[i];
		if (!v[k].gw.family && (gw = family_gateway(ipam, v[k].dst.addr.family)))
			v[k].gw = *gw;
		k++;
	}
	for (size_t f = 0; default_routes && f < 2; f++) {
		if (!(gw = family_gateway(ipam, fams[f])) || lists_default(v, k, fams[f]))
			continue;
		v[k] = (struct cni_route){ .gw = *gw, .scope = -1 };
		v[k].dst.addr.family = fams[f];
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

static bool same_gw(const struct netd_route *a, const struct netd_route *b)
{
	return a->gw.family == b->gw.family && (!a->gw.family || netd_addr_eq(&a->gw, &b->gw));
}

/* `have` is the route asked for: same device and gateway, and the metric,
 * MTU and advmss where asked. */
static bool is_wanted(const struct netd_route *have, const struct netd_route *want)
{
	return have->ifindex == want->ifindex && same_gw(have, want) &&
	       (!want->metric || have->metric == want->metric) && (!want->mtu || have->mtu == want->mtu) &&
	       (!want->advmss || have->advmss == want->advmss);
}

static const char *route_str(struct netd_nl *nl, const struct netd_route *r, char *buf, size_t len)
{
	char d[NETD_PREFIX_STRLEN], g[NETD_ADDR_STRLEN];
	struct netd_link l = { .name = "?" };
	int k;

	if (r->ifindex)
		netd_nl_link_get_index(nl, r->ifindex, &l, NULL);
	k = snprintf(buf, len, "%s", r->dst.len ? netd_prefix_str(&r->dst, d) : "default");
	if (r->gw.family)
		k += snprintf(buf + k, len - k, " via %s", netd_addr_str(&r->gw, g));
	if (r->ifindex)
		k += snprintf(buf + k, len - k, " dev %s", l.name);
	if (r->metric)
		k += snprintf(buf + k, len - k, " metric %u", (unsigned)r->metric);
	if (r->table && r->table != 254)
		snprintf(buf + k, len - k, " table %d", r->table);
	return buf;
}

/* Decide how `want` goes in, given the routes to its destination already in
 * its table: 1 = it is there already, 0 = add it (want->metric set when it
 * must not take the kernel's default), or -EEXIST with err set on a
 * conflict.
 *
 * Routes of other interfaces belong to other networks of the container: a
 * route without a priority coexists with them one metric after the last, so
 * networks are preferred in the order they were attached and each keeps its
 * own route when another goes. A conflict is a route at the asked metric
 * (with a priority) or on the same interface (without one) that differs;
 * the kernel's own routes (subnet, router advertisements) never are. */
static int route_plan(struct netd_nl *nl, struct netd_route *want, const struct netd_route *have, size_t n,
		      struct netd_err *err)
{
	uint32_t base = want->dst.addr.family == AF_INET6 ? 1024 : 0, top = 0;
	bool any = false;
	char a[200], b[200];

	for (size_t i = 0; i < n; i++) {
		const struct netd_route *h = &have[i];
		bool clash;

		if (h->dst.len != want->dst.len || !netd_addr_eq(&h->dst.addr, &want->dst.addr))
			continue;
		if (is_wanted(h, want))
			return 1;
		if (want->metric)
			clash = h->metric == want->metric;
		else
			clash = h->ifindex == want->ifindex && h->protocol != RTPROT_KERNEL && h->protocol != RTPROT_RA;
		if (clash)
			return netd_err_set(err, -EEXIST, NETD_ERR_IN_USE, "route %s conflicts with %s",
					    route_str(nl, want, a, sizeof(a)), route_str(nl, h, b, sizeof(b)));
		if (!any || (uint32_t)h->metric > top)
			top = (uint32_t)h->metric;
		any = true;
	}
	if (want->metric || !any)
		return 0;
	if (top == UINT32_MAX)
		return netd_err_set(err, -EEXIST, NETD_ERR_IN_USE, "route %s: no metric left after %s",
				    route_str(nl, want, a, sizeof(a)), route_str(nl, &have[0], b, sizeof(b)));
	want->metric = (int)(top + 1 > base ? top + 1 : base);
	return 0;
}

/* Install one route; a route that is there already is success. The list
 * and the add race with another plugin configuring this netns: the kernel's
 * EEXIST sends us back to look again. */
static int route_install(struct netd_nl *nl, int ifindex, const struct cni_route *r, struct netd_err *err)
{
	int rc = -EEXIST;

	for (int tries = 0; tries < 4 && rc == -EEXIST; tries++) {
		struct netd_route nr = { .dst = r->dst, .gw = r->gw, .ifindex = ifindex, .metric = r->priority,
					 .table = r->table, .mtu = r->mtu, .advmss = r->advmss, .scope = r->scope };
		struct netd_route *have = NULL;
		size_t n = 0;

		if ((rc = netd_nl_route_list(nl, r->dst.addr.family, r->table, &have, &n, err)) < 0)
			return rc;
		rc = route_plan(nl, &nr, have, n, err);
		free(have);
		if (rc)
			return rc < 0 ? rc : 0;
		rc = netd_nl_route_add(nl, &nr, err);
		if (rc == -EEXIST && tries < 3)
			memset(err, 0, sizeof(*err));
	}
	return rc;
}

int netd_ifconf_apply(struct netd_nl *nl, int ifindex, const struct cni_result *ipam, bool default_routes,
		      struct netd_err *err)
{
	struct cni_route *routes = NULL;
	size_t n = 0;
	int rc;

	for (size_t i = 0; ipam && i < ipam->n_ips; i++)
		if ((rc = netd_nl_addr_add(nl, ifindex, &ipam->ips[i].address, true, err)) < 0)
			return rc;
	if ((rc = netd_nl_link_set_up(nl, ifindex, true, err)) < 0)
		return rc;
	if ((rc = plan_routes(ipam, default_routes, &routes, &n)) < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < n && rc >= 0; i++)
		rc = route_install(nl, ifindex, &routes[i], err);
	free(routes);
	return rc < 0 ? rc : 0;
}

static struct cni_result *result_of(struct cni_ctx *ctx)
{
	if (!ctx->result)
		ctx->result = ctx->prev ? cni_result_dup(ctx->prev) : cni_result_new();
	return ctx->result;
}

static int add_iface(struct cni_ctx *ctx, const struct netd_link *l, const char *name, const char *sandbox)
{
	struct cni_result *r = result_of(ctx);
	struct cni_iface f = {0};

	if (!r)
		return -ENOMEM;
	snprintf(f.name, sizeof(f.name), "%s", name);
	netd_mac_str(l->mac, f.mac);
	f.mtu = l->mtu;
	if (sandbox)
		snprintf(f.sandbox, sizeof(f.sandbox), "%s", sandbox);
	return cni_result_add_iface(r, &f);
}

int netd_ifconf_result_host(struct cni_ctx *ctx, const struct netd_link *l)
{
	return add_iface(ctx, l, l->name, NULL);
}

int netd_ifconf_result(struct cni_ctx *ctx, const struct netd_link *l, const struct cni_result *ipam,
		       bool default_routes)
{
	int ci = add_iface(ctx, l, ctx->ifname, ctx->netns);
	struct cni_result *r = ctx->result;
	struct cni_route *routes = NULL;
	size_t n = 0;

	if (ci < 0)
		return ci;
	for (size_t i = 0; ipam && i < ipam->n_ips; i++) {
		struct cni_ip ip = ipam->ips[i];

		ip.iface = ci;
		if (cni_result_add_ip(r, &ip) < 0)
			return -ENOMEM;
	}
	if (plan_routes(ipam, default_routes, &routes, &n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (cni_result_add_route(r, &routes[i]) < 0) {
			free(routes);
			return -ENOMEM;
		}
	free(routes);
	if (ipam && cni_dns_merge(&r->dns, &ipam->dns) < 0)
		return -ENOMEM;
	return ci;
}

static bool has_prefix(const struct netd_prefix *list, size_t n, const struct netd_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (netd_addr_eq(&list[i].addr, &p->addr) && list[i].len == p->len)
			return true;
	return false;
}

static bool has_route(const struct netd_route *list, size_t n, const struct cni_route *want)
{
	for (size_t k = 0; k < n; k++)
		if (netd_addr_eq(&list[k].dst.addr, &want->dst.addr) && list[k].dst.len == want->dst.len &&
		    (!want->gw.family || netd_addr_eq(&list[k].gw, &want->gw)))
			return true;
	return false;
}

int netd_ifconf_check(struct cni_ctx *ctx, struct netd_nl *nl, int ci, const struct netd_link *l)
{
	const struct cni_result *prev = ctx->prev;
	struct netd_prefix *addrs = NULL;
	struct netd_route *routes = NULL;
	size_t na = 0, nr = 0;
	char buf[NETD_PREFIX_STRLEN];
	int rc;

	if ((rc = netd_nl_addr_list(nl, l->ifindex, 0, &addrs, &na, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; !rc && i < prev->n_ips; i++)
		if (prev->ips[i].iface == ci && !has_prefix(addrs, na, &prev->ips[i].address))
			rc = netd_err_set(&ctx->err, -EINVAL, NETD_ERR_DRIFT, "address %s is missing from interface %s",
					  netd_prefix_str(&prev->ips[i].address, buf), ctx->ifname);
	free(addrs);
	for (int fam = AF_INET; !rc && fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		if ((rc = netd_nl_route_list(nl, fam, 0, &routes, &nr, &ctx->err)) < 0)
			break;
		for (size_t i = 0; !rc && i < prev->n_routes; i++) {
			const struct cni_route *want = &prev->routes[i];

			/* other tables are policy routing's business, not ours */
			if (want->dst.addr.family != fam || (want->table && want->table != 254))
				continue;
			if (!has_route(routes, nr, want))
				rc = netd_err_set(&ctx->err, -EINVAL, NETD_ERR_DRIFT,
						  "route to %s is missing in the container",
						  netd_prefix_str(&want->dst, buf));
		}
		free(routes);
		routes = NULL;
	}
	return rc;
}
