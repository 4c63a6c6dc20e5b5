#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/ifconf.h"
#include "netd/log.h"

static int default_route(const struct cni_ip *ip, struct cni_route *rt)
{
	if (!ip->gateway.family)
		return 0;
	*rt = (struct cni_route){.gw = ip->gateway, .scope = -1};
	rt->dst.addr.family = ip->gateway.family;
	return 1;
}

int netd_ifconf_apply(struct netd_nl *nl, int ifindex, const struct cni_result *ipam, bool default_routes,
		      struct netd_err *err)
{
	int rc;

	for (size_t i = 0; ipam && i < ipam->n_ips; i++)
		if ((rc = netd_nl_addr_add(nl, ifindex, &ipam->ips[i].address, true, err)) < 0)
			return rc;
	if ((rc = netd_nl_link_set_up(nl, ifindex, true, err)) < 0)
		return rc;
	for (size_t i = 0; ipam && i < ipam->n_routes; i++) {
		const struct cni_route *r = &ipam->routes[i];
		struct netd_route nr = {.dst = r->dst, .gw = r->gw, .ifindex = ifindex, .metric = r->priority,
					.table = r->table, .mtu = r->mtu, .advmss = r->advmss, .scope = r->scope};

		if ((rc = netd_nl_route_add(nl, &nr, err)) < 0)
			return rc;
	}
	for (size_t i = 0; default_routes && ipam && i < ipam->n_ips; i++) {
		struct cni_route rt;

		if (!default_route(&ipam->ips[i], &rt))
			continue;
		struct netd_route nr = {.dst = rt.dst, .gw = rt.gw, .ifindex = ifindex, .scope = -1};
		if ((rc = netd_nl_route_add(nl, &nr, err)) < 0)
			return rc;
	}
	return 0;
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

	if (ci < 0)
		return ci;
	for (size_t i = 0; ipam && i < ipam->n_ips; i++) {
		struct cni_ip ip = ipam->ips[i];

		ip.iface = ci;
		if (cni_result_add_ip(r, &ip) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; ipam && i < ipam->n_routes; i++)
		if (cni_result_add_route(r, &ipam->routes[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; default_routes && ipam && i < ipam->n_ips; i++) {
		struct cni_route rt;

		if (default_route(&ipam->ips[i], &rt) && cni_result_add_route(r, &rt) < 0)
			return -ENOMEM;
	}
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

void netd_ifconf_ipam_undo(struct cni_ctx *ctx)
{
	struct netd_err saved = ctx->err;

	memset(&ctx->err, 0, sizeof(ctx->err));
	if (cni_ipam_exec(ctx, CNI_CMD_DEL, NULL) < 0)
		log_warn("undo: ipam DEL: %s", ctx->err.msg);
	ctx->err = saved;
}
