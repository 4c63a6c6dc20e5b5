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
#include "netd/ifconf.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nl.h"
#include "netd/util.h"

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


static const char *const mode_names[] = {
	[NETD_MACVLAN_BRIDGE] = "bridge",
	[NETD_MACVLAN_PRIVATE] = "private",
	[NETD_MACVLAN_VEPA] = "vepa",
	[NETD_MACVLAN_PASSTHRU] = "passthru",
};

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
	if (c->master && !netd_ifname_valid(c->master))
		return cni_conf_err(ctx, "master '%s' is not a valid interface name (" NETD_IFNAME_RULE ")",
				    c->master);
	if (c->link_in_container && !c->master)
		return cni_conf_err(ctx, "linkInContainer needs 'master' (the default route is the host's)");
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(c->mode_name, mode_names[i]))
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0]))
		return cni_conf_err(ctx, "invalid macvlan mode '%s' (want bridge, private, vepa or passthru)",
				c->mode_name);
	c->mode = (enum netd_macvlan_mode)i;
	if (mtu && mtu < 68)
		return cni_conf_err(ctx, "mtu %lld is below the minimum of 68", mtu);
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
			return cni_conf_err(ctx, "MAC address '%s' does not parse (want aa:bb:cc:dd:ee:ff)", mac);
		if (c->mac[0] & 1)
			return cni_conf_err(ctx, "MAC address '%s' is a multicast address", mac);
		if (!memcmp(c->mac, "\0\0\0\0\0\0", 6))
			return cni_conf_err(ctx, "MAC address '%s' is all zeros", mac);
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
			return cni_conf_err(ctx, "master interface '%s' does not exist %s", c->master,
					c->link_in_container ? "in the container's netns" : "on the host");
		return rc;
	}
	if ((idx = netd_nl_default_route_link(nl, 0, &ctx->err)) < 0) {
		netd_err_prefix(&ctx->err, CNI_ERR_INVALID_CONFIG,
				"no 'master' given and no default route to take it from");
		return idx;
	}
	if ((rc = netd_nl_link_get_index(nl, idx, out, &ctx->err)) == -ENODEV)
		return cni_conf_err(ctx, "the default route's link #%d has gone", idx);
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
		rc = cni_conf_err(ctx, "master '%s' is the loopback device", master.name);
		goto out;
	}
	if (c.mtu > master.mtu) {
		rc = cni_conf_err(ctx, "mtu %d is larger than master %s's MTU %d", c.mtu, master.name,
			      master.mtu);
		goto out;
	}

	/* 2. addresses */
	if (c.ipam_type) {
		if ((rc = cni_ipam_exec(ctx, CNI_CMD_ADD, &ipam)) < 0)
			goto fail;
		ipam_done = true;
		if (!ipam->n_ips) {
			rc = cni_conf_err(ctx, "IPAM plugin %s returned no IP address", c.ipam_type);
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
	if ((rc = netd_nl_link_get(ctr_nl, ctx->ifname, &l, &ctx->err)) < 0)
		goto fail;
	/* Announce the MAC with a gratuitous ARP as the link comes up, so the
	 * outside learns it without traffic; a packet socket would cost 10+ ms. */
	for (size_t i = 0; ipam && i < ipam->n_ips; i++)
		if (ipam->ips[i].address.addr.family == AF_INET) {
			arp_notify_on(nsfd, l.name);
			break;
		}
	if ((rc = netd_ifconf_apply(ctr_nl, l.ifindex, ipam, false, &ctx->err)) < 0 ||
	    (rc = netd_ifconf_result(ctx, &l, ipam, false)) < 0)
		goto fail;
	goto out;

fail:
	netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "macvlan %s on %s", ctx->ifname, master.name);
	if (created && netd_nl_link_get(ctr_nl, ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "macvlan"))
		netd_nl_link_del(ctr_nl, l.ifindex, NULL);
	if (ipam_done)
		netd_ifconf_ipam_undo(ctx);
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
	if (c.ipam_type && cni_ipam_exec(ctx, CNI_CMD_DEL, NULL) < 0)
		netd_err_collect(&first, &ctx->err);
	/* Only a macvlan: a link of another kind under this name is not ours. */
	if (ctx->netns && (nsfd = netns_open(ctx->netns, NULL)) >= 0 && netd_nl_open(nsfd, &nl, NULL) == 0 &&
	    netd_nl_link_get(nl, ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "macvlan") &&
	    (rc = netd_nl_link_del(nl, l.ifindex, &ctx->err)) < 0 && rc != -ENODEV)
		netd_err_collect(&first, &ctx->err);
	netd_nl_free(nl);
	if (nsfd >= 0)
		close(nsfd);
	return netd_err_collected(&first, &ctx->err);
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
		return cni_conf_err(ctx, "CHECK needs prevResult");
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
		rc = cni_drift(ctx, "prevResult has no interface %s in a sandbox", ctx->ifname);
	else if (netd_nl_link_get(ctr_nl, ctx->ifname, &ctr, NULL) < 0)
		rc = cni_drift(ctx, "interface %s does not exist in netns %s", ctx->ifname, ctx->netns);
	else if (strcmp(ctr.kind, "macvlan"))
		rc = cni_drift(ctx, "interface %s is a '%s', not a macvlan", ctx->ifname, ctr.kind);
	/* A parent in another netns is reported by index there: the host's. */
	else if (ctr.link != master.ifindex || (ctr.link_netnsid >= 0) == c.link_in_container)
		rc = cni_drift(ctx, "interface %s is not a macvlan of %s", ctx->ifname, master.name);
	else if (ctx->prev->ifaces[ci].mac[0] &&
		 strcasecmp(ctx->prev->ifaces[ci].mac, netd_mac_str(ctr.mac, mac)))
		rc = cni_drift(ctx, "interface %s has MAC %s, not the one in prevResult", ctx->ifname, mac);
	else if (!ctr.up)
		rc = cni_drift(ctx, "interface %s in the container is down", ctx->ifname);
	else if (c.mtu && ctr.mtu != c.mtu)
		rc = cni_drift(ctx, "interface %s has MTU %d, not %d", ctx->ifname, ctr.mtu, c.mtu);
	else
		rc = netd_ifconf_check(ctx, ctr_nl, ci, &ctr);
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
