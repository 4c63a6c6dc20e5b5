/* netd-bridge — connect a container to a Linux bridge through a veth pair.
 *
 * ADD: validate the whole config; lock the bridge; refuse a repeated ADD of
 * an attachment whose host end exists (code 102, IPAM untouched); get
 * addresses from IPAM; ensure the bridge (and its gateway addresses when
 * isGateway); create the veth pair with its container end straight in the
 * netns; attach the host end; give the container end its addresses and
 * routes; add masquerade elements when ipMasq. Any failure undoes what this
 * call did, in reverse (lib/attach.c's undo stack).
 * DEL: the same in reverse; succeeds when there is nothing left to remove,
 * and needs only what names the attachment (a bad MAC in args does not
 * matter to it).
 * CHECK: verifies each piece and names the first that drifted.
 * GC (under the lock)/STATUS: IPAM, and masquerade elements for GC.
 *
 * The host end's name is derived from (network, container, ifname), so DEL
 * and CHECK find it without entering the container. Options and defaults
 * follow the reference bridge plugin; see docs/netd-bridge.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "netd/attach.h"
#include "netd/cni.h"
#include "netd/ifconf.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nft.h"
#include "netd/nl.h"
#include "netd/util.h"

struct bridge_conf {
	/* every command */
	const char *bridge;
	bool ip_masq, macspoofchk;
	const char *ipam_type; /* NULL = no IPAM (L2 only) */
	/* ADD and CHECK */
	bool is_gateway, is_default_gateway, force_address, hairpin, promisc;
	int mtu, vlan;
	/* ADD */
	bool has_mac;
	uint8_t mac[6];
	/* derived */
	char veth[IFNAMSIZ], owner[33];
};

/* What names the attachment and what DEL and GC remove. */
static int parse_conf(struct cni_ctx *ctx, struct bridge_conf *c)
{
	const json_t *j = ctx->config;
	struct netd_err *err = &ctx->err;
	int rc;

	*c = (struct bridge_conf){.bridge = "cni0"};
	if ((rc = cni_conf_str(j, "bridge", &c->bridge, err)) < 0 || (rc = cni_conf_bool(j, "ipMasq", &c->ip_masq, err)) < 0 ||
	    (rc = cni_conf_bool(j, "macspoofchk", &c->macspoofchk, err)) < 0 ||
	    (rc = netd_conf_ipam(ctx, &c->ipam_type)) < 0)
		return rc;
	if (!netd_ifname_valid(c->bridge))
		return cni_conf_err(ctx, "bridge name '%s' is not a valid interface name (" NETD_IFNAME_RULE ")",
				    c->bridge);
	/* Host end of the veth: "veth" + 11 hex digits of a hash of the endpoint. */
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, c->owner);
	snprintf(c->veth, sizeof(c->veth), "veth%.11s", c->owner + 8);
	return 0;
}

/* How the attachment is built: ADD needs it, CHECK compares with it. */
static int parse_build(struct cni_ctx *ctx, struct bridge_conf *c)
{
	const json_t *j = ctx->config;
	struct netd_err *err = &ctx->err;
	long long vlan = 0;
	int rc;

	if ((rc = cni_conf_bool(j, "isGateway", &c->is_gateway, err)) < 0 ||
	    (rc = cni_conf_bool(j, "isDefaultGateway", &c->is_default_gateway, err)) < 0 ||
	    (rc = cni_conf_bool(j, "forceAddress", &c->force_address, err)) < 0 ||
	    (rc = cni_conf_bool(j, "hairpinMode", &c->hairpin, err)) < 0 ||
	    (rc = cni_conf_bool(j, "promiscMode", &c->promisc, err)) < 0 ||
	    (rc = cni_conf_int(j, "vlan", 0, 4094, &vlan, err)) < 0 || (rc = netd_conf_mtu(ctx, &c->mtu)) < 0)
		return rc;
	c->vlan = (int)vlan;
	if (c->is_default_gateway)
		c->is_gateway = true;
	return 0;
}

/* ---- ADD, step by step; each pushes the undo of what it did ---- */

/* A runtime's retry of an ADD into a new netns finds the host end of the
 * live attachment: refuse it before IPAM hands out that attachment's address
 * a second time (and before a failure could release it). */
static int refuse_repeat(struct netd_attach *a, const struct bridge_conf *c)
{
	struct netd_link l;

	if (netd_nl_link_get(a->host, c->veth, &l, NULL) < 0)
		return 0;
	return netd_err_set(&a->ctx->err, -EEXIST, NETD_ERR_IN_USE,
			    "container %s is already attached to network %s as %s (host end %s exists): "
			    "a repeated ADD needs a DEL first",
			    a->ctx->container_id, a->ctx->network, a->ctx->ifname, c->veth);
}

/* The bridge (created if missing), its options, and the gateway address of
 * each of IPAM's subnets when isGateway. A bridge made here gets a MAC of its
 * own: the kernel's would follow its lowest port, and every container would
 * lose its gateway for a while when that port goes. */
static int bridge_up(struct netd_attach *a, const struct bridge_conf *c, struct netd_link *br)
{
	struct cni_ctx *ctx = a->ctx;
	uint8_t mac[6];
	struct netd_bridge_opts bo = {.mtu = c->mtu, .vlan_filtering = c->vlan > 0, .mac = mac, .no_dad = true};
	int rc;

	netd_mac_for_host(c->bridge, mac);
	rc = netd_nl_bridge_ensure(a->host, c->bridge, &bo, br, &ctx->err);

	if (bo.created && netd_attach_undo_push(a, netd_attach_undo_host_link, c->bridge, strlen(c->bridge) + 1) < 0)
		return -ENOMEM;
	if (rc == -EOPNOTSUPP && c->vlan) {
		memset(&ctx->err, 0, sizeof(ctx->err));
		return netd_err_set(&ctx->err, rc, NETD_ERR_KERNEL,
				    "vlan %d needs bridge VLAN filtering, which this kernel does not support (CONFIG_BRIDGE_VLAN_FILTERING)",
				    c->vlan);
	}
	if (rc < 0)
		return rc;
	if (c->promisc && !br->promisc && (rc = netd_nl_link_set_promisc(a->host, br->ifindex, true, &ctx->err)) < 0)
		return rc;
	if (c->vlan &&
	    (rc = netd_nl_bridge_vlan_add(a->host, br->ifindex, (uint16_t)c->vlan, true, true, true, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; c->is_gateway && a->ipam && i < a->ipam->n_ips; i++) {
		const struct cni_ip *ip = &a->ipam->ips[i];
		struct netd_prefix gw = {.addr = ip->gateway, .len = ip->address.len};

		if (!ip->gateway.family)
			continue;
		if ((rc = netd_attach_gateway(a, br, &gw, c->force_address)) < 0) {
			if (rc == -EEXIST)
				netd_err_details(&ctx->err, "set forceAddress to replace it");
			return rc;
		}
	}
	return 0;
}

/* The veth pair into the bridge; the container end gets its addresses and
 * routes. */
static int veth_up(struct netd_attach *a, const struct bridge_conf *c, const struct netd_link *br,
		   struct netd_link *ctr)
{
	struct netd_veth_opts vo = {.host_name = c->veth, .mtu = c->mtu ? c->mtu : br->mtu,
				    .peer_mac = c->has_mac ? c->mac : NULL, .master = br->ifindex, .up = true};

	return netd_attach_veth(a, &vo, c->is_default_gateway, ctr);
}

/* Port options on the host end. It is looked at only now: a request on it
 * right after its creation makes the kernel handle its carrier event on the
 * spot, which walks the whole FDB and IPv6 FIB — the main cost at 1,000
 * ports. The bridge is looked at again for the result: its MAC as it is with
 * the port joined. */
static int port_options(struct netd_attach *a, const struct bridge_conf *c, struct netd_link *br,
			struct netd_link *host)
{
	struct cni_ctx *ctx = a->ctx;
	int rc;

	if ((rc = netd_nl_link_get(a->host, c->veth, host, &ctx->err)) < 0 ||
	    (rc = netd_nl_link_get_index(a->host, br->ifindex, br, &ctx->err)) < 0)
		return rc;
	if (c->hairpin && (rc = netd_nl_brport_set_hairpin(a->host, host->ifindex, true, &ctx->err)) < 0)
		return rc;
	if (c->vlan &&
	    (rc = netd_nl_bridge_vlan_add(a->host, host->ifindex, (uint16_t)c->vlan, true, true, false, &ctx->err)) < 0)
		return rc;
	return 0;
}

static void undo_macspoof(struct netd_attach *a, void *data)
{
	netd_nft_del(data, &a->ctx->err);
}

/* Masquerade for the container's addresses, and frames from the container
 * must carry its own MAC. */
static int nft_rules(struct netd_attach *a, struct bridge_conf *c, const struct netd_link *ctr)
{
	int rc;

	if (c->ip_masq && (rc = netd_attach_masq(a, c->owner)) < 0)
		return rc;
	if (!c->macspoofchk)
		return 0;
	if ((rc = netd_nft_macspoof_add(c->veth, ctr->mac, c->owner, &a->ctx->err)) < 0)
		return rc;
	return netd_attach_undo_push(a, undo_macspoof,
				     &(struct netd_nft_del_req){.owner = c->owner, .macspoof = true, .host_ifname = c->veth},
				     sizeof(struct netd_nft_del_req));
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	struct netd_attach a;
	struct netd_link br, host, ctr;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = parse_build(ctx, &c)) < 0 ||
	    (rc = netd_conf_mac(ctx, c.mac, &c.has_mac)) < 0)
		return rc;
	if ((rc = netd_attach_begin(&a, ctx, c.bridge, NETD_ATTACH_HOST | NETD_ATTACH_CTR)) < 0)
		return rc;
	if ((rc = refuse_repeat(&a, &c)) < 0 || (rc = netd_attach_ipam_add(&a, c.ipam_type)) < 0 ||
	    (rc = bridge_up(&a, &c, &br)) < 0 || (rc = veth_up(&a, &c, &br, &ctr)) < 0 ||
	    (rc = port_options(&a, &c, &br, &host)) < 0 || (rc = nft_rules(&a, &c, &ctr)) < 0)
		goto out;
	/* the result: prevResult's pieces, the bridge, the host end, the container */
	if ((rc = netd_ifconf_result_host(ctx, &br)) < 0 || (rc = netd_ifconf_result_host(ctx, &host)) < 0 ||
	    (rc = netd_attach_result(&a, &ctr, c.is_default_gateway)) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "bridge %s", c.bridge);
	return netd_attach_end(&a, rc);
}

/* ---- DEL ---- */

/* Deleting a veth costs the kernel about 20 ms (RCU grace periods), most of
 * a DEL. A child makes that request while this process releases the address
 * and the nftables elements; DEL returns only when both are done. Returns the
 * child's pid, or 0 when the deletion was done here (fork failed). */
static pid_t link_del_start(struct netd_attach *a, struct netd_nl *nl, int ifindex)
{
	pid_t pid = fork();
	int rc;

	if (pid == 0) {
		rc = netd_nl_link_del(nl, ifindex, NULL);
		_exit(rc < 0 && rc != -ENODEV ? (-rc & 0x7f) : 0);
	}
	if (pid > 0)
		return pid;
	if ((rc = netd_nl_link_del(nl, ifindex, &a->ctx->err)) < 0 && rc != -ENODEV)
		netd_attach_collect(a);
	return 0;
}

static void link_del_wait(struct netd_attach *a, pid_t pid, const char *name)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	netd_err_set(&a->ctx->err, -EIO, NETD_ERR_KERNEL, "delete interface %s: %s", name,
		     WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "deleting process died");
	netd_attach_collect(a);
}

static void nft_del(struct netd_attach *a, const struct bridge_conf *c)
{
	struct cni_ctx *ctx = a->ctx;
	/* prevResult's addresses spare a listing of the whole set */
	struct netd_addr addrs[16];
	struct netd_nft_del_req q = {.owner = c->owner, .masq = c->ip_masq, .macspoof = c->macspoofchk,
				     .host_ifname = c->veth};

	for (size_t i = 0; ctx->prev && i < ctx->prev->n_ips && q.naddrs < 16; i++)
		addrs[q.naddrs++] = ctx->prev->ips[i].address.addr;
	if (q.naddrs && q.naddrs == (ctx->prev ? ctx->prev->n_ips : 0))
		q.addrs = addrs;
	else
		q.naddrs = 0;
	if (netd_nft_del(&q, &ctx->err) < 0)
		netd_attach_collect(a);
}

/* DEL: nothing left to remove is success (no prior ADD, netns gone, second
 * DEL). IPAM and nftables are released while a child deletes the veth. */
static int cmd_del(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	struct netd_attach a;
	struct netd_nl *del_nl = NULL;
	struct netd_link l;
	pid_t child = 0;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	netd_nft_release_in_background(true); /* see cmd_gc */
	if ((rc = netd_attach_del_begin(&a, ctx, c.bridge, NETD_ATTACH_CTR_IF_THERE, NULL)) < 0)
		return rc;
	/* Either end removes the pair. The container's, when its netns is
	 * still there; else the host end, if the kernel has not removed it
	 * with the netns already. */
	if (a.ctr && netd_nl_link_get(a.ctr, ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "veth"))
		del_nl = a.ctr;
	else if (netd_nl_open(-1, &a.host, &ctx->err) < 0)
		netd_attach_collect(&a);
	else if (netd_nl_link_get(a.host, c.veth, &l, NULL) == 0)
		del_nl = a.host;
	if (del_nl)
		child = link_del_start(&a, del_nl, l.ifindex);
	if (netd_ipam_run(ctx, c.ipam_type, CNI_CMD_DEL) < 0)
		netd_attach_collect(&a);
	if (c.ip_masq || c.macspoofchk)
		nft_del(&a, &c);
	if (child > 0)
		link_del_wait(&a, child, l.name);
	return netd_attach_del_end(&a);
}

/* ---- CHECK ---- */

static int check_gateways(struct netd_attach *a, const struct bridge_conf *c, const struct netd_link *br)
{
	struct cni_ctx *ctx = a->ctx;
	int ci = cni_result_find_iface(ctx->prev, ctx->ifname, true);
	struct netd_prefix *have = NULL;
	char buf[NETD_ADDR_STRLEN];
	size_t n = 0;
	int rc;

	if (!c->is_gateway || (rc = netd_nl_addr_list(a->host, br->ifindex, 0, &have, &n, &ctx->err)) < 0)
		return c->is_gateway ? rc : 0;
	for (size_t i = 0; !rc && i < ctx->prev->n_ips; i++) {
		const struct cni_ip *ip = &ctx->prev->ips[i];
		bool found = false;

		if (ip->iface != ci || !ip->gateway.family)
			continue;
		for (size_t k = 0; k < n && !found; k++)
			found = netd_addr_eq(&have[k].addr, &ip->gateway);
		if (!found)
			rc = cni_drift(ctx, "gateway %s is missing from bridge %s", netd_addr_str(&ip->gateway, buf),
				       c->bridge);
	}
	free(have);
	return rc;
}

static int check_nft(struct cni_ctx *ctx, const struct bridge_conf *c, const struct netd_link *ctr)
{
	int rc = 0;

	if (c->ip_masq && (rc = netd_attach_check_masq(ctx, c->owner)) < 0)
		return rc;
	if (c->macspoofchk && (rc = netd_nft_macspoof_has(c->veth, ctr->mac, c->owner, &ctx->err)) == 0)
		rc = cni_drift(ctx, "macspoofchk guard for %s is missing from table bridge %s", c->veth,
			       NETD_NFT_CNI_TABLE);
	return rc < 0 ? rc : 0;
}

/* The bridge, the host end a port of it, and the pair's MTU. */
static int check_links(struct netd_attach *a, const struct bridge_conf *c, struct netd_link *br,
		       const struct netd_link *ctr)
{
	struct cni_ctx *ctx = a->ctx;
	struct netd_link host;
	int ci = cni_result_find_iface(ctx->prev, ctx->ifname, true);
	int mtu = c->mtu ? c->mtu : ci >= 0 ? ctx->prev->ifaces[ci].mtu : 0;

	if (netd_nl_link_get(a->host, c->bridge, br, NULL) < 0)
		return cni_drift(ctx, "bridge %s does not exist", c->bridge);
	if (strcmp(br->kind, "bridge"))
		return cni_drift(ctx, "%s is a '%s', not a bridge", c->bridge, br->kind);
	if (netd_nl_link_get(a->host, c->veth, &host, NULL) < 0)
		return cni_drift(ctx, "host end %s of %s's veth does not exist", c->veth, ctx->ifname);
	if (host.master != br->ifindex)
		return cni_drift(ctx, "host end %s is not attached to bridge %s", c->veth, c->bridge);
	if (!host.up)
		return cni_drift(ctx, "host end %s is down", c->veth);
	/* Without an MTU of its own the pair's two ends still agree. */
	if (mtu && host.mtu != mtu)
		return cni_drift(ctx, "host end %s has MTU %d, not %d", c->veth, host.mtu, mtu);
	if (!mtu && host.mtu != ctr->mtu)
		return cni_drift(ctx, "interface %s has MTU %d, its host end %s %d", ctx->ifname, ctr->mtu, c->veth,
				 host.mtu);
	return netd_attach_check_link(ctx, a->ctr, ctr, "veth", mtu);
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	struct netd_attach a;
	struct netd_link br, ctr;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = parse_build(ctx, &c)) < 0 ||
	    (rc = netd_attach_check_begin(&a, ctx, c.ipam_type, NETD_ATTACH_HOST | NETD_ATTACH_CTR, &ctr)) < 0)
		return rc;
	if ((rc = check_links(&a, &c, &br, &ctr)) == 0 && (rc = check_gateways(&a, &c, &br)) == 0)
		rc = check_nft(ctx, &c, &ctr);
	return netd_attach_end(&a, rc);
}

/* ---- GC, STATUS ---- */

/* GC (under the lock, so no ADD is halfway through): IPAM frees
 * reservations; masquerade and macspoofchk elements of this network that no
 * valid attachment owns go too. */
static int cmd_gc(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	int rc = parse_conf(ctx, &c);

	/* a short-lived single-threaded process: GC and DEL need not wait for
	 * the kernel to release the nftables socket (netd/nft_conn.h) */
	netd_nft_release_in_background(true);
	return rc < 0 ? rc : netd_attach_gc(ctx, c.bridge, c.ipam_type, c.ip_masq, c.macspoofchk);
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct bridge_conf c;

	return parse_conf(ctx, &c) < 0 ? -EINVAL : netd_ipam_run(ctx, c.ipam_type, CNI_CMD_STATUS);
}

CNI_PLUGIN_MAIN("netd-bridge", cmd_add, cmd_del, cmd_check, cmd_gc, cmd_status)
