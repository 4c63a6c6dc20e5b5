/* netd-macvlan — give the container a macvlan child of a host interface.
 *
 * ADD: validate the whole config (mode, MAC, MTU against the master's, the
 * master itself: named, or the link of the host's default route, or inside
 * the container with linkInContainer); lock the network; get addresses from
 * IPAM (an attachment that already holds its address is a repeated ADD:
 * code 102, nothing released); create the macvlan in one RTM_NEWLINK
 * straight inside the container's netns under CNI_IFNAME (the kernel
 * resolves the parent in the requesting netns, so there is no temporary name
 * on the host and no move); then addresses, link up (with arp_notify, so the
 * kernel sends a gratuitous ARP per IPv4 address and neighbours that cached
 * a previous owner of the address learn the new MAC), routes.
 * Any failure undoes what this call did, in reverse (lib/attach.c).
 * DEL: IPAM DEL and delete the container's macvlan; nothing to remove is
 * success (the kernel deletes a macvlan with its netns), and only the
 * network's name, ipam and CNI_IFNAME matter to it.
 * CHECK: the link is a macvlan of the right master with prevResult's MAC,
 * up, with its MTU, addresses and routes. GC (under the lock)/STATUS: IPAM;
 * STATUS also says whether the master exists. Options follow the reference
 * macvlan plugin; see docs/netd-macvlan.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netd/attach.h"
#include "netd/cni.h"
#include "netd/ifconf.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nl.h"
#include "netd/util.h"

struct macvlan_conf {
	/* every command */
	const char *master; /* NULL = default route's link */
	bool link_in_container;
	const char *ipam_type; /* NULL = no IPAM (L2 only) */
	/* ADD and CHECK */
	enum netd_macvlan_mode mode;
	int mtu;
	/* ADD */
	bool has_mac;
	uint8_t mac[6];
};

static const char *const mode_names[] = {
	[NETD_MACVLAN_BRIDGE] = "bridge",
	[NETD_MACVLAN_PRIVATE] = "private",
	[NETD_MACVLAN_VEPA] = "vepa",
	[NETD_MACVLAN_PASSTHRU] = "passthru",
};

/* What every command needs; nothing is looked up here, so DEL works when
 * the master has gone. */
static int parse_conf(struct cni_ctx *ctx, struct macvlan_conf *c)
{
	const json_t *j = ctx->config;
	int rc;

	*c = (struct macvlan_conf){.mode = NETD_MACVLAN_BRIDGE};
	if ((rc = cni_conf_str(j, "master", &c->master, &ctx->err)) < 0 ||
	    (rc = cni_conf_bool(j, "linkInContainer", &c->link_in_container, &ctx->err)) < 0 ||
	    (rc = netd_conf_ipam(ctx, &c->ipam_type)) < 0)
		return rc;
	if (c->master && !*c->master)
		c->master = NULL;
	if (c->master && !netd_ifname_valid(c->master))
		return cni_conf_err(ctx, "master '%s' is not a valid interface name (" NETD_IFNAME_RULE ")",
				    c->master);
	if (c->link_in_container && !c->master)
		return cni_conf_err(ctx, "linkInContainer needs 'master' (the default route is the host's)");
	return 0;
}

/* How the link is built: ADD needs it, CHECK compares with it. */
static int parse_build(struct cni_ctx *ctx, struct macvlan_conf *c)
{
	const char *mode = "bridge";
	size_t i;
	int rc;

	if ((rc = cni_conf_str(ctx->config, "mode", &mode, &ctx->err)) < 0 || (rc = netd_conf_mtu(ctx, &c->mtu)) < 0)
		return rc;
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(mode, mode_names[i]))
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0]))
		return cni_conf_err(ctx, "invalid macvlan mode '%s' (want bridge, private, vepa or passthru)", mode);
	c->mode = (enum netd_macvlan_mode)i;
	return 0;
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

/* The master must be a real parent, with room for the MTU asked for. */
static int check_master(struct cni_ctx *ctx, const struct macvlan_conf *c, const struct netd_link *m)
{
	if (m->ifindex == 1 || !strcmp(m->name, "lo"))
		return cni_conf_err(ctx, "master '%s' is the loopback device", m->name);
	if (c->mtu > m->mtu)
		return cni_conf_err(ctx, "mtu %d is larger than master %s's MTU %d", c->mtu, m->name, m->mtu);
	return 0;
}

/* Gratuitous ARP, so neighbours that cached another MAC for an address (a
 * previous container's) update at once: arp_notify makes the kernel send one
 * per IPv4 address when the link comes up. Sending it ourselves would need
 * a packet socket, whose close waits for an RCU grace period (synchronize_net:
 * 10+ ms, more than the whole ADD). Best effort, as in the reference plugin. */
static void arp_notify_on(struct netd_attach *a, const char *ifname)
{
	char key[64];

	for (size_t i = 0; a->ipam && i < a->ipam->n_ips; i++)
		if (a->ipam->ips[i].address.addr.family == AF_INET) {
			snprintf(key, sizeof(key), "net/ipv4/conf/%s/arp_notify", ifname);
			if (netns_sysctl_set(a->nsfd, key, "1", NULL) < 0)
				log_debug("%s: cannot set arp_notify", ifname);
			return;
		}
}

/* Only a macvlan: a link of another kind under this name is not ours. */
static void undo_macvlan(struct netd_attach *a, void *data)
{
	struct netd_link l;

	(void)data;
	if (netd_nl_link_get(a->ctr, a->ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "macvlan"))
		netd_nl_link_del(a->ctr, l.ifindex, &a->ctx->err);
}

/* The macvlan, born inside the container under its final name; then
 * addresses, up, routes (IPv6 without DAD: the address came from IPAM). */
static int macvlan_up(struct netd_attach *a, const struct macvlan_conf *c, const struct netd_link *master,
		      struct netd_link *l)
{
	struct cni_ctx *ctx = a->ctx;
	struct netd_macvlan_opts mo = {.name = ctx->ifname, .parent = master->ifindex, .mode = c->mode, .mtu = c->mtu,
				       .mac = c->has_mac ? c->mac : NULL,
				       .target_nsfd = c->link_in_container ? -1 : a->nsfd};
	int rc;

	if ((rc = netd_nl_macvlan_create(c->link_in_container ? a->ctr : a->host, &mo, &ctx->err)) < 0 ||
	    (rc = netd_attach_undo_push(a, undo_macvlan, NULL, 0)) < 0 ||
	    (rc = netd_nl_link_get(a->ctr, ctx->ifname, l, &ctx->err)) < 0)
		return rc;
	arp_notify_on(a, l->name);
	return netd_ifconf_apply(a->ctr, l->ifindex, a->ipam, false, &ctx->err);
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	struct netd_attach a;
	struct netd_link master = {.name = "?"}, l;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = parse_build(ctx, &c)) < 0 ||
	    (rc = netd_conf_mac(ctx, c.mac, &c.has_mac)) < 0)
		return rc;
	if ((rc = netd_attach_begin(&a, ctx, ctx->network,
				    NETD_ATTACH_CTR | (c.link_in_container ? 0 : NETD_ATTACH_HOST))) < 0)
		return rc;
	if ((rc = find_master(ctx, c.link_in_container ? a.ctr : a.host, &c, &master)) < 0 ||
	    (rc = check_master(ctx, &c, &master)) < 0)
		goto out;
	if ((rc = netd_attach_ipam_add(&a, c.ipam_type)) < 0 || (rc = macvlan_up(&a, &c, &master, &l)) < 0 ||
	    (rc = netd_attach_result(&a, &l, false)) < 0)
		netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "macvlan %s on %s", ctx->ifname, master.name);
out:
	return netd_attach_end(&a, rc < 0 ? rc : 0);
}

/* DEL: nothing left to remove is success; the kernel deletes a macvlan
 * with its netns. */
static int cmd_del(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	struct netd_attach a;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 ||
	    (rc = netd_attach_del_begin(&a, ctx, ctx->network, NETD_ATTACH_CTR_IF_THERE, c.ipam_type)) < 0)
		return rc;
	netd_attach_del_ctr_link(&a, "macvlan");
	return netd_attach_del_end(&a);
}

/* The container's link is a macvlan of the master the config names. */
static int check_macvlan(struct netd_attach *a, const struct macvlan_conf *c, const struct netd_link *ctr)
{
	struct cni_ctx *ctx = a->ctx;
	struct netd_link master;
	int rc;

	if (strcmp(ctr->kind, "macvlan"))
		return cni_drift(ctx, "interface %s is a '%s', not a macvlan", ctx->ifname, ctr->kind);
	if ((rc = find_master(ctx, c->link_in_container ? a->ctr : a->host, c, &master)) < 0) {
		ctx->err.code = NETD_ERR_DRIFT;
		return rc;
	}
	/* A parent in another netns is reported by index there: the host's. */
	if (ctr->link != master.ifindex || (ctr->link_netnsid >= 0) == c->link_in_container)
		return cni_drift(ctx, "interface %s is not a macvlan of %s", ctx->ifname, master.name);
	return 0;
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	struct netd_attach a;
	struct netd_link ctr;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = parse_build(ctx, &c)) < 0 ||
	    (rc = netd_attach_check_begin(&a, ctx, c.ipam_type,
					  NETD_ATTACH_CTR | (c.link_in_container ? 0 : NETD_ATTACH_HOST), &ctr)) < 0)
		return rc;
	if ((rc = check_macvlan(&a, &c, &ctr)) == 0)
		rc = netd_attach_check_link(ctx, a.ctr, &ctr, "macvlan", c.mtu);
	return netd_attach_end(&a, rc);
}

/* GC (under the lock): IPAM frees reservations; a macvlan went with its
 * netns. */
static int cmd_gc(struct cni_ctx *ctx)
{
	struct macvlan_conf c;
	int rc = parse_conf(ctx, &c);

	return rc < 0 ? rc : netd_attach_gc(ctx, ctx->network, c.ipam_type, false, false);
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
	return netd_ipam_run(ctx, c.ipam_type, CNI_CMD_STATUS);
}

CNI_PLUGIN_MAIN("netd-macvlan", cmd_add, cmd_del, cmd_check, cmd_gc, cmd_status)
