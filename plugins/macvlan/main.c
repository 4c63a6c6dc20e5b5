/* netd-macvlan — give the container a macvlan child of a host interface.
 *
 * ADD: validate the whole config (mode, MAC, MTU against the master's, the
 * master itself: named, or the link of the host's default route, or inside
 * the container with linkInContainer); get addresses from the IPAM plugin;
 * create the macvlan in one RTM_NEWLINK straight inside the container's
 * netns under CNI_IFNAME (the kernel resolves the parent in the requesting
 * netns, so there is no temporary name on the host and no move); then
 * addresses, link up (with arp_notify, so the kernel sends a gratuitous ARP
 * per IPv4 address and neighbours that cached a previous owner of the
 * address learn the new MAC), routes.
 * Any failure deletes the link and releases the IPAM reservation.
 * DEL: IPAM DEL and delete the container's macvlan; nothing to remove is
 * success (the kernel deletes a macvlan with its netns).
 * CHECK: the link is a macvlan of the right master with prevResult's MAC,
 * up, with its addresses and routes. GC/STATUS: IPAM; STATUS also says
 * whether the master exists. Options follow the reference macvlan plugin;
 * see docs/netd-macvlan.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netd/cni.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nl.h"

struct macvlan_conf {
	const char *master; /* NULL = default route's link */
	enum netd_macvlan_mode mode;
	const char *mode_name;
	int mtu;
	bool link_in_container;
	bool has_mac;
	uint8_t mac[6];
	const char *ipam_type; /* NULL = no IPAM (L2 only) */
};

#define conf_err(ctx, ...) netd_err_set(&(ctx)->err, -EINVAL, CNI_ERR_INVALID_CONFIG, __VA_ARGS__)
#define drift(ctx, ...) netd_err_set(&(ctx)->err, -EINVAL, NETD_ERR_DRIFT, __VA_ARGS__)

static const char *const mode_names[] = {
	[NETD_MACVLAN_BRIDGE] = "bridge",
	[NETD_MACVLAN_PRIVATE] = "private",
	[NETD_MACVLAN_VEPA] = "vepa",
	[NETD_MACVLAN_PASSTHRU] = "passthru",
};

static bool ifname_ok(const char *s)
{
	return *s && strlen(s) < IFNAMSIZ && !strchr(s, '/') && !strchr(s, ' ') && strcmp(s, ".") &&
	       strcmp(s, "..");
}

/* Everything from the config and the runtime; nothing is looked up here, so
 * DEL works when the master has gone. */
static int parse_conf(struct cni_ctx *ctx, struct macvlan_conf *c)
{
	const json_t *j = ctx->config;
	struct netd_err *err = &ctx->err;
	const char *mac = NULL;
	long long mtu = 0;
	json_t *rc_mac;
	size_t i;
	int rc;

	*c = (struct macvlan_conf){.mode = NETD_MACVLAN_BRIDGE, .mode_name = "bridge"};
	if (cni_conf_str(j, "master", &c->master, err) || cni_conf_str(j, "mode", &c->mode_name, err) ||
	    cni_conf_int(j, "mtu", 0, 65535, &mtu, err) ||
	    cni_conf_bool(j, "linkInContainer", &c->link_in_container, err))
		return -EINVAL;
	if (c->master && !*c->master)
		c->master = NULL;
	if (c->master && !ifname_ok(c->master))
		return conf_err(ctx,
				"master '%s' is not a valid interface name (1-15 bytes, no '/' or spaces)",
				c->master);
	if (c->link_in_container && !c->master)
		return conf_err(ctx, "linkInContainer needs 'master' (the default route is the host's)");
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(c->mode_name, mode_names[i]))
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0]))
		return conf_err(ctx, "invalid macvlan mode '%s' (want bridge, private, vepa or passthru)",
				c->mode_name);
	c->mode = (enum netd_macvlan_mode)i;
	if (mtu && mtu < 68)
		return conf_err(ctx, "mtu %lld is below the minimum of 68", mtu);
	c->mtu = (int)mtu;

	/* MAC: runtimeConfig capability, then CNI_ARGS, then args.cni. */
	if ((rc_mac = cni_runtime_cap(ctx, "mac")) && json_is_string(rc_mac))
		mac = json_string_value(rc_mac);
	if (!mac)
		mac = cni_arg(ctx, "MAC");
	if (!mac && ctx->conf_args)
		mac = json_string_value(json_object_get(json_object_get(ctx->conf_args, "cni"), "mac"));
	if (mac) {
		if (netd_mac_parse(mac, c->mac) < 0)
			return conf_err(ctx, "MAC address '%s' does not parse (want aa:bb:cc:dd:ee:ff)", mac);
		if (c->mac[0] & 1)
			return conf_err(ctx, "MAC address '%s' is a multicast address", mac);
		if (!memcmp(c->mac, "\0\0\0\0\0\0", 6))
			return conf_err(ctx, "MAC address '%s' is all zeros", mac);
		c->has_mac = true;
	}

	rc = cni_ipam_validate(ctx, &c->ipam_type);
	if (rc == -ENOENT) {
		c->ipam_type = NULL;
		return 0;
	}
	return rc;
}

/* The master, in the netns nl looks at. A missing one is a config error:
 * it is named by the config (or by the host's routes). */
static int find_master(struct cni_ctx *ctx, struct netd_nl *nl, const struct macvlan_conf *c,
		       struct netd_link *out)
{
	int rc, idx;

	if (c->master) {
		rc = netd_nl_link_get(nl, c->master, out, &ctx->err);
		if (rc == -ENODEV)
			return conf_err(ctx, "master interface '%s' does not exist %s", c->master,
					c->link_in_container ? "in the container's netns" : "on the host");
		return rc;
	}
	if ((idx = netd_nl_default_route_link(nl, 0, &ctx->err)) < 0) {
		netd_err_prefix(&ctx->err, CNI_ERR_INVALID_CONFIG,
				"no 'master' given and no default route to take it from");
		return idx;
	}
	if ((rc = netd_nl_link_get_index(nl, idx, out, &ctx->err)) == -ENODEV)
		return conf_err(ctx, "the default route's link #%d has gone", idx);
	return rc;
}

/* Gratuitous ARP, so neighbours that cached another MAC for an address (a
 * previous container's) update at once: arp_notify makes the kernel send one
 * per IPv4 address when the link comes up. Sending it ourselves would need
 * a packet socket, whose close waits for an RCU grace period (synchronize_net:
 * 10+ ms, more than the whole ADD). Best effort, as in the reference plugin. */
static void arp_notify_on(int nsfd, const char *ifname)
{
	char key[64];

	snprintf(key, sizeof(key), "net/ipv4/conf/%s/arp_notify", ifname);
	if (netns_sysctl_set(nsfd, key, "1", NULL) < 0)
		log_debug("%s: cannot set arp_notify", ifname);
}

/* Addresses, link up, routes: in that order, as routes need an up link with
 * an address of their gateway's subnet. IPv6 addresses skip DAD: they came
 * from IPAM, and waiting for DAD is what makes other plugins slow. */
static int setup_container(struct cni_ctx *ctx, struct netd_nl *nl, int nsfd, const struct netd_link *l,
			   const struct cni_result *ipam)
{
	int rc, idx = l->ifindex;

	bool v4 = false;

	for (size_t i = 0; ipam && i < ipam->n_ips; i++) {
		if ((rc = netd_nl_addr_add(nl, idx, &ipam->ips[i].address, true, &ctx->err)) < 0)
			return rc;
		v4 |= ipam->ips[i].address.addr.family == AF_INET;
	}
	if (v4)
		arp_notify_on(nsfd, l->name);
	if ((rc = netd_nl_link_set_up(nl, idx, true, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; ipam && i < ipam->n_routes; i++) {
		const struct cni_route *r = &ipam->routes[i];
		struct netd_route nr = {.dst = r->dst,
					.gw = r->gw,
					.ifindex = idx,
					.metric = r->priority,
					.table = r->table,
					.mtu = r->mtu,
					.advmss = r->advmss,
					.scope = r->scope};

		if ((rc = netd_nl_route_add(nl, &nr, &ctx->err)) < 0)
			return rc;
	}
	return 0;
}

/* prevResult's pieces, then the container interface, IPAM's addresses on
 * it, routes and DNS. */
static int build_result(struct cni_ctx *ctx, const struct netd_link *l, const struct cni_result *ipam)
{
	struct cni_result *r = ctx->prev ? cni_result_dup(ctx->prev) : cni_result_new();
	struct cni_iface f = {.mtu = l->mtu};
	int ci;

	if (!r)
		return -ENOMEM;
	snprintf(f.name, sizeof(f.name), "%s", ctx->ifname);
	netd_mac_str(l->mac, f.mac);
	snprintf(f.sandbox, sizeof(f.sandbox), "%s", ctx->netns);
	if ((ci = cni_result_add_iface(r, &f)) < 0)
		goto nomem;
	for (size_t i = 0; ipam && i < ipam->n_ips; i++) {
		struct cni_ip ip = ipam->ips[i];

		ip.iface = ci;
		if (cni_result_add_ip(r, &ip) < 0)
			goto nomem;
	}
	for (size_t i = 0; ipam && i < ipam->n_routes; i++)
		if (cni_result_add_route(r, &ipam->routes[i]) < 0)
			goto nomem;
	if (ipam && cni_dns_merge(&r->dns, &ipam->dns) < 0)
		goto nomem;
	ctx->result = r;
	return 0;
nomem:
	cni_result_free(r);
	return -ENOMEM;
}

static void undo_ipam(struct cni_ctx *ctx)
{
	struct netd_err saved = ctx->err;

	/* IPAM DEL reports into ctx->err; keep the ADD's own error. */
	memset(&ctx->err, 0, sizeof(ctx->err));
	if (cni_ipam_exec(ctx, CNI_CMD_DEL, NULL) < 0)
		log_warn("undo: ipam DEL: %s", ctx->err.msg);
	ctx->err = saved;
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	struct netd_nl *host_nl = NULL, *ctr_nl = NULL;
	struct cni_result *ipam = NULL;
	struct netd_link master, l;
	bool created = false, ipam_done = false;
	int rc, nsfd;

	/* 1. parse and validate everything before touching anything */
	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0)
		return rc;
	if ((rc = netd_nl_open(nsfd, &ctr_nl, &ctx->err)) < 0 ||
	    (!c.link_in_container && (rc = netd_nl_open(-1, &host_nl, &ctx->err)) < 0))
		goto out;
	if (netd_nl_link_get(ctr_nl, ctx->ifname, &l, NULL) == 0) {
		rc = netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE,
				  "interface %s already exists in netns %s", ctx->ifname, ctx->netns);
		goto out;
	}
	if ((rc = find_master(ctx, c.link_in_container ? ctr_nl : host_nl, &c, &master)) < 0)
		goto out;
	if (master.ifindex == 1 || !strcmp(master.name, "lo")) {
		rc = conf_err(ctx, "master '%s' is the loopback device", master.name);
		goto out;
	}
	if (c.mtu > master.mtu) {
		rc = conf_err(ctx, "mtu %d is larger than master %s's MTU %d", c.mtu, master.name,
			      master.mtu);
		goto out;
	}

	/* 2. addresses */
	if (c.ipam_type) {
		if ((rc = cni_ipam_exec(ctx, CNI_CMD_ADD, &ipam)) < 0)
			goto fail;
		ipam_done = true;
		if (!ipam->n_ips) {
			rc = conf_err(ctx, "IPAM plugin %s returned no IP address", c.ipam_type);
			goto fail;
		}
	}

	/* 3. the macvlan, born inside the container under its final name */
	struct netd_macvlan_opts mo = {.name = ctx->ifname,
				       .parent = master.ifindex,
				       .mode = c.mode,
				       .mtu = c.mtu,
				       .mac = c.has_mac ? c.mac : NULL,
				       .target_nsfd = c.link_in_container ? -1 : nsfd};
	if ((rc = netd_nl_macvlan_create(c.link_in_container ? ctr_nl : host_nl, &mo, &ctx->err)) < 0)
		goto fail;
	created = true;

	/* 4. inside the container */
	if ((rc = netd_nl_link_get(ctr_nl, ctx->ifname, &l, &ctx->err)) < 0 ||
	    (rc = setup_container(ctx, ctr_nl, nsfd, &l, ipam)) < 0)
		goto fail;
	if ((rc = build_result(ctx, &l, ipam)) < 0)
		goto fail;
	goto out;

fail:
	netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "macvlan %s on %s", ctx->ifname, master.name);
	if (created && netd_nl_link_get(ctr_nl, ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "macvlan"))
		netd_nl_link_del(ctr_nl, l.ifindex, NULL);
	if (ipam_done)
		undo_ipam(ctx);
out:
	cni_result_free(ipam);
	netd_nl_free(ctr_nl);
	netd_nl_free(host_nl);
	close(nsfd);
	return rc;
}

/* DEL keeps going after an error and reports the first; nothing left to
 * remove is success (no prior ADD, netns gone, second DEL). */
static int cmd_del(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	struct netd_nl *nl = NULL;
	struct netd_link l;
	struct netd_err first = {0};
	int rc, nsfd = -1;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if (c.ipam_type && cni_ipam_exec(ctx, CNI_CMD_DEL, NULL) < 0) {
		first = ctx->err;
		memset(&ctx->err, 0, sizeof(ctx->err));
	}
	/* Only a macvlan: a link of another kind under this name is not ours. */
	if (ctx->netns && (nsfd = netns_open(ctx->netns, NULL)) >= 0 && netd_nl_open(nsfd, &nl, NULL) == 0 &&
	    netd_nl_link_get(nl, ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "macvlan") &&
	    (rc = netd_nl_link_del(nl, l.ifindex, &ctx->err)) < 0 && rc != -ENODEV && !first.msg[0])
		first = ctx->err;
	netd_nl_free(nl);
	if (nsfd >= 0)
		close(nsfd);
	if (first.msg[0]) {
		ctx->err = first;
		return -EIO;
	}
	memset(&ctx->err, 0, sizeof(ctx->err));
	return 0;
}

static bool has_prefix(const struct netd_prefix *list, size_t n, const struct netd_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (netd_addr_eq(&list[i].addr, &p->addr) && list[i].len == p->len)
			return true;
	return false;
}

/* prevResult's addresses on the interface, its routes in the main table. */
static int check_l3(struct cni_ctx *ctx, struct netd_nl *nl, int ci, const struct netd_link *ctr)
{
	const struct cni_result *prev = ctx->prev;
	struct netd_prefix *addrs = NULL;
	struct netd_route *routes = NULL;
	size_t na = 0, nr = 0;
	char buf[NETD_PREFIX_STRLEN];
	int rc;

	if ((rc = netd_nl_addr_list(nl, ctr->ifindex, 0, &addrs, &na, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; !rc && i < prev->n_ips; i++)
		if (prev->ips[i].iface == ci && !has_prefix(addrs, na, &prev->ips[i].address))
			rc = drift(ctx, "address %s is missing from interface %s",
				   netd_prefix_str(&prev->ips[i].address, buf), ctx->ifname);
	free(addrs);
	for (int fam = AF_INET; !rc && fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		if ((rc = netd_nl_route_list(nl, fam, 0, &routes, &nr, &ctx->err)) < 0)
			break;
		for (size_t i = 0; !rc && i < prev->n_routes; i++) {
			const struct cni_route *want = &prev->routes[i];
			bool found = false;

			if (want->dst.addr.family != fam || (want->table && want->table != 254))
				continue;
			for (size_t k = 0; k < nr && !found; k++)
				found = netd_addr_eq(&routes[k].dst.addr, &want->dst.addr) &&
					routes[k].dst.len == want->dst.len &&
					(!want->gw.family || netd_addr_eq(&routes[k].gw, &want->gw));
			if (!found)
				rc = drift(ctx, "route to %s is missing in the container",
					   netd_prefix_str(&want->dst, buf));
		}
		free(routes);
		routes = NULL;
	}
	return rc;
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	struct netd_nl *host_nl = NULL, *ctr_nl = NULL;
	struct netd_link master, ctr;
	char mac[18];
	int rc, nsfd = -1, ci;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if (!ctx->prev)
		return conf_err(ctx, "CHECK needs prevResult");
	if (c.ipam_type && (rc = cni_ipam_exec(ctx, CNI_CMD_CHECK, NULL)) < 0)
		return rc;
	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0)
		return rc;
	if ((rc = netd_nl_open(nsfd, &ctr_nl, &ctx->err)) < 0 ||
	    (!c.link_in_container && (rc = netd_nl_open(-1, &host_nl, &ctx->err)) < 0))
		goto out;
	if ((rc = find_master(ctx, c.link_in_container ? ctr_nl : host_nl, &c, &master)) < 0) {
		ctx->err.code = NETD_ERR_DRIFT;
		goto out;
	}
	ci = cni_result_find_iface(ctx->prev, ctx->ifname, true);
	if (ci < 0)
		rc = drift(ctx, "prevResult has no interface %s in a sandbox", ctx->ifname);
	else if (netd_nl_link_get(ctr_nl, ctx->ifname, &ctr, NULL) < 0)
		rc = drift(ctx, "interface %s does not exist in netns %s", ctx->ifname, ctx->netns);
	else if (strcmp(ctr.kind, "macvlan"))
		rc = drift(ctx, "interface %s is a '%s', not a macvlan", ctx->ifname, ctr.kind);
	/* A parent in another netns is reported by index there: the host's. */
	else if (ctr.link != master.ifindex || (ctr.link_netnsid >= 0) == c.link_in_container)
		rc = drift(ctx, "interface %s is not a macvlan of %s", ctx->ifname, master.name);
	else if (ctx->prev->ifaces[ci].mac[0] &&
		 strcasecmp(ctx->prev->ifaces[ci].mac, netd_mac_str(ctr.mac, mac)))
		rc = drift(ctx, "interface %s has MAC %s, not the one in prevResult", ctx->ifname, mac);
	else if (!ctr.up)
		rc = drift(ctx, "interface %s in the container is down", ctx->ifname);
	else if (c.mtu && ctr.mtu != c.mtu)
		rc = drift(ctx, "interface %s has MTU %d, not %d", ctx->ifname, ctr.mtu, c.mtu);
	else
		rc = check_l3(ctx, ctr_nl, ci, &ctr);
out:
	netd_nl_free(ctr_nl);
	netd_nl_free(host_nl);
	close(nsfd);
	return rc;
}

static int cmd_gc(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	int rc = parse_conf(ctx, &c);

	if (rc < 0 || !c.ipam_type)
		return rc;
	return cni_ipam_exec(ctx, CNI_CMD_GC, NULL);
}

/* Ready when the master is there (on the host: one inside a container
 * cannot be seen from here) and IPAM is. */
static int cmd_status(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	struct netd_nl *nl = NULL;
	struct netd_link master;
	int rc = parse_conf(ctx, &c);

	if (rc < 0)
		return rc;
	if (!c.link_in_container) {
		if ((rc = netd_nl_open(-1, &nl, &ctx->err)) == 0)
			rc = find_master(ctx, nl, &c, &master);
		netd_nl_free(nl);
		if (rc < 0) {
			ctx->err.code = 50; /* the spec's "plugin not available" */
			return rc;
		}
	}
	return c.ipam_type ? cni_ipam_exec(ctx, CNI_CMD_STATUS, NULL) : 0;
}

static const struct cni_plugin macvlan_plugin = {
	.name = "netd-macvlan",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(void)
{
	return cni_main(&macvlan_plugin);
}
