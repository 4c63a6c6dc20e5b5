/* netd-bridge — connect a container to a Linux bridge through a veth pair.
 *
 * ADD: validate the whole config; lock the bridge; get addresses from the
 * IPAM plugin; ensure the bridge (and its gateway addresses when isGateway);
 * create the veth pair with its container end straight in the netns; attach
 * the host end; give the container end its addresses and routes; add
 * masquerade elements when ipMasq. Any failure undoes these in reverse,
 * IPAM reservation included, and the bridge too when this call created it.
 * DEL: the same in reverse; succeeds when there is nothing left to remove.
 * CHECK: verifies each piece and names the first that drifted.
 * GC/STATUS: passed on to IPAM (and masquerade elements for GC).
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

#include "netd/cni.h"
#include "netd/ifconf.h"
#include "netd/lock.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nft.h"
#include "netd/nl.h"
#include "netd/util.h"

#define LOCK_TIMEOUT_MS 30000

struct bridge_conf {
	const char *bridge;
	bool is_gateway, is_default_gateway, force_address, ip_masq;
	bool hairpin, promisc, macspoofchk;
	int mtu, vlan;
	bool has_mac;
	uint8_t mac[6];
	const char *ipam_type; /* NULL = no IPAM (L2 only) */
};

/* What ADD did, so it can be undone in reverse. */
struct undo {
	bool ipam, bridge_created, veth, masq, macspoof;
	struct netd_prefix gw_added[8];
	size_t n_gw_added;
};


static int parse_conf(struct cni_ctx *ctx, struct bridge_conf *c)
{
	const json_t *j = ctx->config;
	struct netd_err *err = &ctx->err;
	const char *mac = NULL;
	long long mtu = 0, vlan = 0;
	json_t *rc_mac;
	int rc;

	*c = (struct bridge_conf){.bridge = "cni0"};
	if (cni_conf_str(j, "bridge", &c->bridge, err) || cni_conf_bool(j, "isGateway", &c->is_gateway, err) ||
	    cni_conf_bool(j, "isDefaultGateway", &c->is_default_gateway, err) ||
	    cni_conf_bool(j, "forceAddress", &c->force_address, err) || cni_conf_bool(j, "ipMasq", &c->ip_masq, err) ||
	    cni_conf_bool(j, "hairpinMode", &c->hairpin, err) || cni_conf_bool(j, "promiscMode", &c->promisc, err) ||
	    cni_conf_bool(j, "macspoofchk", &c->macspoofchk, err) || cni_conf_int(j, "mtu", 0, 65535, &mtu, err) ||
	    cni_conf_int(j, "vlan", 0, 4094, &vlan, err))
		return -EINVAL;
	if (!netd_ifname_valid(c->bridge))
		return cni_conf_err(ctx, "bridge name '%s' is not a valid interface name (" NETD_IFNAME_RULE ")",
				    c->bridge);
	if (mtu && mtu < 68)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "mtu %lld is below the minimum of 68", mtu);
	c->mtu = (int)mtu;
	c->vlan = (int)vlan;
	if (c->is_default_gateway)
		c->is_gateway = true;

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
		c->has_mac = true;
	}

	rc = cni_ipam_validate(ctx, &c->ipam_type);
	if (rc == -ENOENT) {
		c->ipam_type = NULL;
		return 0;
	}
	return rc;
}

/* Host end of the veth: "veth" + 11 hex digits of a hash of the endpoint. */
static void host_ifname(const struct cni_ctx *ctx, char out[IFNAMSIZ])
{
	char owner[33];

	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	snprintf(out, IFNAMSIZ, "veth%.11s", owner + 8);
}

/* Gateway addresses of the IPAM result, with the subnet's prefix length. */
static size_t gateways(const struct cni_result *ipam, struct netd_prefix *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; ipam && i < ipam->n_ips && n < max; i++) {
		const struct cni_ip *ip = &ipam->ips[i];

		if (!ip->gateway.family)
			continue;
		out[n].addr = ip->gateway;
		out[n].len = ip->address.len;
		n++;
	}
	return n;
}

/* Give the bridge its gateway address. With another address of the same
 * subnet already there, forceAddress replaces it; otherwise it is an error,
 * as silently adding a second gateway would split the network. */
static int ensure_gateway(struct cni_ctx *ctx, struct netd_nl *nl, const struct bridge_conf *c, int br,
			  const struct netd_prefix *gw, struct undo *u)
{
	struct netd_prefix *have = NULL;
	char a[NETD_PREFIX_STRLEN], b[NETD_PREFIX_STRLEN];
	size_t n = 0;
	bool present = false;
	int rc;

	rc = netd_nl_addr_list(nl, br, gw->addr.family, &have, &n, &ctx->err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		if (netd_addr_eq(&have[i].addr, &gw->addr)) {
			present = true;
			continue;
		}
		if (!netd_prefix_contains(gw, &have[i].addr) || have[i].len != gw->len)
			continue;
		if (!c->force_address)
			rc = netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE,
					  "bridge %s already has address %s in this subnet, not the gateway %s; set forceAddress to replace it",
					  c->bridge, netd_prefix_str(&have[i], a), netd_prefix_str(gw, b));
		else
			rc = netd_nl_addr_del(nl, br, &have[i], &ctx->err);
	}
	free(have);
	if (rc < 0 || present)
		return rc;
	rc = netd_nl_addr_add(nl, br, gw, true, &ctx->err);
	if (rc == 0 && u->n_gw_added < sizeof(u->gw_added) / sizeof(u->gw_added[0]))
		u->gw_added[u->n_gw_added++] = *gw;
	return rc;
}

/* Turn on forwarding once; reading first avoids a write on every ADD. */
static int ensure_forwarding(struct cni_ctx *ctx, int family)
{
	const char *key = family == AF_INET ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
	char v[16] = "";

	if (netns_sysctl_get(-1, key, v, sizeof(v), NULL) == 0 && !strcmp(v, "1"))
		return 0;
	return netns_sysctl_set(-1, key, "1", &ctx->err);
}

/* The host end is a bridge port: it needs no IPv6 of its own. Without this
 * each port gets a link-local address, routes (whose insertion walks every
 * other port's) and DAD, router and MLD traffic flooded over the bridge. Best
 * effort: a kernel without IPv6 has nothing to turn off. */
static void host_port_no_ipv6(const char *veth)
{
	char key[64];

	snprintf(key, sizeof(key), "net/ipv6/conf/%s/disable_ipv6", veth);
	netns_sysctl_set(-1, key, "1", NULL);
}

/* The result: prevResult's pieces, then the bridge, the host veth, the
 * container interface with IPAM's addresses, routes and DNS. */
static int build_result(struct cni_ctx *ctx, const struct bridge_conf *c, const struct netd_link *br,
			const struct netd_link *host, const struct netd_link *ctr, const struct cni_result *ipam)
{
	int rc;

	if ((rc = netd_ifconf_result_host(ctx, br)) < 0 || (rc = netd_ifconf_result_host(ctx, host)) < 0 ||
	    (rc = netd_ifconf_result(ctx, ctr, ipam, c->is_default_gateway)) < 0)
		return rc;
	return 0;
}

static void undo_add(struct cni_ctx *ctx, struct netd_nl *host_nl, const struct bridge_conf *c,
		     const char *veth, const char *owner, const struct undo *u)
{
	struct netd_link l;
	struct netd_err e = {0};

	struct netd_nft_del_req q = {.owner = owner, .masq = u->masq, .macspoof = u->macspoof, .host_ifname = veth};

	if ((u->masq || u->macspoof) && netd_nft_del(&q, &e) < 0)
		log_warn("undo: nftables: %s", e.msg);
	if (u->veth && netd_nl_link_get(host_nl, veth, &l, NULL) == 0 && netd_nl_link_del(host_nl, l.ifindex, &e) < 0)
		log_warn("undo: delete %s: %s", veth, e.msg);
	if (netd_nl_link_get(host_nl, c->bridge, &l, NULL) == 0) {
		if (u->bridge_created)
			netd_nl_link_del(host_nl, l.ifindex, NULL);
		else
			for (size_t i = 0; i < u->n_gw_added; i++)
				netd_nl_addr_del(host_nl, l.ifindex, &u->gw_added[i], NULL);
	}
	if (u->ipam)
		netd_ifconf_ipam_undo(ctx);
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	struct undo u = {0};
	struct netd_nl *host_nl = NULL, *ctr_nl = NULL;
	struct cni_result *ipam = NULL;
	struct netd_link br, host, ctr, existing;
	struct netd_prefix gws[8];
	char veth[IFNAMSIZ], owner[33];
	int rc, nsfd = -1, lock = -1;
	size_t ngw;

	/* 1. parse and validate everything before touching anything */
	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	host_ifname(ctx, veth);
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0)
		return rc;
	if ((rc = netd_nl_open(-1, &host_nl, &ctx->err)) < 0 || (rc = netd_nl_open(nsfd, &ctr_nl, &ctx->err)) < 0)
		goto out;
	if (netd_nl_link_get(ctr_nl, ctx->ifname, &existing, NULL) == 0) {
		rc = netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE, "interface %s already exists in netns %s",
				  ctx->ifname, ctx->netns);
		goto out;
	}
	lock = rc = netd_lock_acquire(cni_getenv(ctx->envp, "NETD_LOCK_DIR"), c.bridge, LOCK_TIMEOUT_MS, &ctx->err);
	if (rc < 0)
		goto out;

	/* 2. addresses */
	if (c.ipam_type) {
		if ((rc = cni_ipam_exec(ctx, CNI_CMD_ADD, &ipam)) < 0)
			goto fail;
		u.ipam = true;
		if (!ipam->n_ips) {
			rc = netd_err_set(&ctx->err, -EINVAL, CNI_ERR_INVALID_CONFIG, "IPAM plugin %s returned no IP address",
					  c.ipam_type);
			goto fail;
		}
	}

	/* 3. bridge, gateway, forwarding. A bridge made here gets a MAC of its
	 * own: the kernel's would follow its lowest port, and every container
	 * would lose its gateway for a while when that port goes. */
	uint8_t br_mac[6];
	netd_mac_for_host(c.bridge, br_mac);
	struct netd_bridge_opts bo = {.mtu = c.mtu, .vlan_filtering = c.vlan > 0, .mac = br_mac};
	rc = netd_nl_bridge_ensure(host_nl, c.bridge, &bo, &br, &ctx->err);
	u.bridge_created = bo.created;
	if (rc < 0) {
		if (rc == -EOPNOTSUPP && c.vlan) {
			memset(&ctx->err, 0, sizeof(ctx->err));
			netd_err_set(&ctx->err, rc, NETD_ERR_KERNEL,
				     "vlan %d needs bridge VLAN filtering, which this kernel does not support (CONFIG_BRIDGE_VLAN_FILTERING)",
				     c.vlan);
		}
		goto fail;
	}
	if (c.promisc && !br.promisc && (rc = netd_nl_link_set_promisc(host_nl, br.ifindex, true, &ctx->err)) < 0)
		goto fail;
	if (c.vlan && (rc = netd_nl_bridge_vlan_add(host_nl, br.ifindex, (uint16_t)c.vlan, true, true, true,
						      &ctx->err)) < 0)
		goto fail;
	ngw = c.is_gateway ? gateways(ipam, gws, 8) : 0;
	for (size_t i = 0; i < ngw; i++) {
		if ((rc = ensure_gateway(ctx, host_nl, &c, br.ifindex, &gws[i], &u)) < 0 ||
		    (rc = ensure_forwarding(ctx, gws[i].addr.family)) < 0)
			goto fail;
	}

	/* 4. the veth pair, container end straight into the netns */
	/* The host end joins the bridge and comes up in the creating request. */
	struct netd_veth_opts vo = {.host_name = veth, .peer_name = ctx->ifname, .peer_nsfd = nsfd,
				    .mtu = c.mtu ? c.mtu : br.mtu, .peer_mac = c.has_mac ? c.mac : NULL,
				    .master = br.ifindex, .up = true};
	if ((rc = netd_nl_veth_create(host_nl, &vo, &ctx->err)) < 0)
		goto fail;
	u.veth = true;
	host_port_no_ipv6(veth);

	/* 5. inside the container */
	if ((rc = netd_nl_link_get(ctr_nl, ctx->ifname, &ctr, &ctx->err)) < 0 ||
	    (rc = netd_ifconf_apply(ctr_nl, ctr.ifindex, ipam, c.is_default_gateway, &ctx->err)) < 0)
		goto fail;

	/* The host end is looked at only now: a request on it right after its
	 * creation makes the kernel handle its carrier event on the spot, which
	 * walks the whole FDB and IPv6 FIB — the main cost at 1,000 ports. */
	if ((rc = netd_nl_link_get(host_nl, veth, &host, &ctx->err)) < 0 ||
	    (rc = netd_nl_link_get_index(host_nl, br.ifindex, &br, &ctx->err)) < 0 ||
	    (c.hairpin && (rc = netd_nl_brport_set_hairpin(host_nl, host.ifindex, true, &ctx->err)) < 0) ||
	    (c.vlan && (rc = netd_nl_bridge_vlan_add(host_nl, host.ifindex, (uint16_t)c.vlan, true, true, false,
						     &ctx->err)) < 0))
		goto fail;

	/* 6. masquerade */
	for (size_t i = 0; c.ip_masq && ipam && i < ipam->n_ips; i++) {
		if ((rc = netd_nft_masq_add(&ipam->ips[i].address, owner, &ctx->err)) < 0)
			goto fail;
		u.masq = true;
	}

	/* 7. frames from the container must carry its own MAC */
	if (c.macspoofchk) {
		if ((rc = netd_nft_macspoof_add(veth, ctr.mac, owner, &ctx->err)) < 0)
			goto fail;
		u.macspoof = true;
	}

	if ((rc = build_result(ctx, &c, &br, &host, &ctr, ipam)) < 0)
		goto fail;
	goto out;

fail:
	netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "bridge %s", c.bridge);
	undo_add(ctx, host_nl, &c, veth, owner, &u);
out:
	netd_lock_release(lock);
	cni_result_free(ipam);
	netd_nl_free(ctr_nl);
	netd_nl_free(host_nl);
	if (nsfd >= 0)
		close(nsfd);
	return rc;
}


/* Deleting a veth costs the kernel about 20 ms (RCU grace periods), most of
 * a DEL. A child makes that request while this process releases the address
 * and the nftables elements; DEL returns only when both are done. Returns the
 * child's pid, or 0 when the deletion was done here (fork failed). */
static pid_t link_del_start(struct cni_ctx *ctx, struct netd_nl *nl, int ifindex, struct netd_err *first)
{
	pid_t pid = fork();
	int rc;

	if (pid == 0) {
		rc = netd_nl_link_del(nl, ifindex, NULL);
		_exit(rc < 0 && rc != -ENODEV ? (-rc & 0x7f) : 0);
	}
	if (pid > 0)
		return pid;
	if ((rc = netd_nl_link_del(nl, ifindex, &ctx->err)) < 0 && rc != -ENODEV)
		netd_err_collect(first, &ctx->err);
	return 0;
}

static void link_del_wait(struct cni_ctx *ctx, pid_t pid, const char *name, struct netd_err *first)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	netd_err_set(&ctx->err, -EIO, NETD_ERR_KERNEL, "delete interface %s: %s", name,
		     WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "deleting process died");
	netd_err_collect(first, &ctx->err);
}

/* DEL keeps going after an error and reports the first; nothing left to
 * remove is success (no prior ADD, netns gone, second DEL). */
static int cmd_del(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	struct netd_nl *host_nl = NULL, *ctr_nl = NULL, *del_nl = NULL;
	struct netd_link l;
	char veth[IFNAMSIZ], owner[33];
	struct netd_err first = {0};
	int rc, lock = -1, nsfd = -1;
	pid_t child = 0;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	host_ifname(ctx, veth);
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	lock = rc = netd_lock_acquire(cni_getenv(ctx->envp, "NETD_LOCK_DIR"), c.bridge, LOCK_TIMEOUT_MS, &ctx->err);
	if (rc < 0)
		return rc;

	/* Either end removes the pair. The container's, when its netns is
	 * still there; else the host end, if the kernel has not removed it
	 * with the netns already. */
	if (ctx->netns && (nsfd = netns_open(ctx->netns, NULL)) >= 0 && netd_nl_open(nsfd, &ctr_nl, NULL) == 0 &&
	    netd_nl_link_get(ctr_nl, ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "veth"))
		del_nl = ctr_nl;
	else if (netd_nl_open(-1, &host_nl, &ctx->err) < 0)
		netd_err_collect(&first, &ctx->err);
	else if (netd_nl_link_get(host_nl, veth, &l, NULL) == 0)
		del_nl = host_nl;
	if (del_nl)
		child = link_del_start(ctx, del_nl, l.ifindex, &first);

	if (c.ipam_type && cni_ipam_exec(ctx, CNI_CMD_DEL, NULL) < 0)
		netd_err_collect(&first, &ctx->err);
	if (c.ip_masq || c.macspoofchk) {
		/* prevResult's addresses spare a listing of the whole set */
		struct netd_addr addrs[16];
		struct netd_nft_del_req q = {.owner = owner, .masq = c.ip_masq, .macspoof = c.macspoofchk,
					     .host_ifname = veth};

		for (size_t i = 0; ctx->prev && i < ctx->prev->n_ips && q.naddrs < 16; i++)
			addrs[q.naddrs++] = ctx->prev->ips[i].address.addr;
		if (q.naddrs && q.naddrs == (ctx->prev ? ctx->prev->n_ips : 0))
			q.addrs = addrs;
		else
			q.naddrs = 0;
		if (netd_nft_del(&q, &ctx->err) < 0)
			netd_err_collect(&first, &ctx->err);
	}
	if (child > 0)
		link_del_wait(ctx, child, l.name, &first);

	netd_lock_release(lock);
	netd_nl_free(ctr_nl);
	netd_nl_free(host_nl);
	if (nsfd >= 0)
		close(nsfd);
	return netd_err_collected(&first, &ctx->err);
}

static int check_container(struct cni_ctx *ctx, struct netd_nl *nl, const struct bridge_conf *c,
			   const struct netd_link *ctr)
{
	const struct cni_result *prev = ctx->prev;
	char mac[18];
	int ci = cni_result_find_iface(prev, ctx->ifname, true);

	if (ci < 0)
		return cni_drift(ctx, "prevResult has no interface %s in a sandbox", ctx->ifname);
	if (prev->ifaces[ci].mac[0] && strcasecmp(prev->ifaces[ci].mac, netd_mac_str(ctr->mac, mac)))
		return cni_drift(ctx, "interface %s has MAC %s, not the one in prevResult", ctx->ifname, mac);
	if (!ctr->up)
		return cni_drift(ctx, "interface %s in the container is down", ctx->ifname);
	if (strcmp(ctr->kind, "veth"))
		return cni_drift(ctx, "interface %s is a '%s', not a veth", ctx->ifname, ctr->kind);
	return netd_ifconf_check(ctx, nl, ci, ctr);
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	struct netd_nl *host_nl = NULL, *ctr_nl = NULL;
	struct netd_link br, host, ctr;
	char veth[IFNAMSIZ], owner[33], buf[NETD_PREFIX_STRLEN];
	int rc, nsfd = -1;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if (!ctx->prev)
		return netd_err_set(&ctx->err, -EINVAL, CNI_ERR_INVALID_CONFIG, "CHECK needs prevResult");
	host_ifname(ctx, veth);
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	if (c.ipam_type && (rc = cni_ipam_exec(ctx, CNI_CMD_CHECK, NULL)) < 0)
		return rc;
	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0)
		return rc;
	if ((rc = netd_nl_open(-1, &host_nl, &ctx->err)) < 0 || (rc = netd_nl_open(nsfd, &ctr_nl, &ctx->err)) < 0)
		goto out;
	if (netd_nl_link_get(host_nl, c.bridge, &br, NULL) < 0) {
		rc = cni_drift(ctx, "bridge %s does not exist", c.bridge);
		goto out;
	}
	if (strcmp(br.kind, "bridge")) {
		rc = cni_drift(ctx, "%s is a '%s', not a bridge", c.bridge, br.kind);
		goto out;
	}
	if (netd_nl_link_get(host_nl, veth, &host, NULL) < 0) {
		rc = cni_drift(ctx, "host end %s of %s's veth does not exist", veth, ctx->ifname);
		goto out;
	}
	if (host.master != br.ifindex) {
		rc = cni_drift(ctx, "host end %s is not attached to bridge %s", veth, c.bridge);
		goto out;
	}
	if (netd_nl_link_get(ctr_nl, ctx->ifname, &ctr, NULL) < 0) {
		rc = cni_drift(ctx, "interface %s does not exist in netns %s", ctx->ifname, ctx->netns);
		goto out;
	}
	if ((rc = check_container(ctx, ctr_nl, &c, &ctr)) < 0)
		goto out;
	for (size_t i = 0; c.ip_masq && i < ctx->prev->n_ips; i++) {
		rc = netd_nft_masq_has(&ctx->prev->ips[i].address, owner, &ctx->err);
		if (rc == 0)
			rc = cni_drift(ctx, "masquerade for %s is missing from table inet %s",
				   netd_prefix_str(&ctx->prev->ips[i].address, buf), NETD_NFT_CNI_TABLE);
		if (rc < 0)
			goto out;
	}
	if (c.macspoofchk) {
		rc = netd_nft_macspoof_has(veth, ctr.mac, owner, &ctx->err);
		if (rc == 0)
			rc = cni_drift(ctx, "macspoofchk guard for %s is missing from table bridge %s", veth,
				   NETD_NFT_CNI_TABLE);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	netd_nl_free(ctr_nl);
	netd_nl_free(host_nl);
	if (nsfd >= 0)
		close(nsfd);
	return rc;
}

/* GC: IPAM frees reservations, and masquerade elements of this network that
 * no valid attachment owns go too. Veths of vanished containers went with
 * their netns. */
static int cmd_gc(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	char (*owners)[33] = NULL;
	const char **keep = NULL;
	size_t n = ctx->n_valid;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if (c.ipam_type && (rc = cni_ipam_exec(ctx, CNI_CMD_GC, NULL)) < 0)
		return rc;
	if (!c.ip_masq && !c.macspoofchk)
		return 0;
	owners = calloc(n + 1, sizeof(*owners));
	keep = calloc(n + 1, sizeof(*keep));
	if (!owners || !keep) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		netd_nft_owner(ctx->network, ctx->valid[i].container_id, ctx->valid[i].ifname, owners[i]);
		keep[i] = owners[i];
	}
	if (c.ip_masq)
		rc = netd_nft_masq_gc(ctx->network, keep, n, &ctx->err);
	if (!rc && c.macspoofchk)
		rc = netd_nft_macspoof_gc(ctx->network, keep, n, &ctx->err);
out:
	free(owners);
	free(keep);
	return rc;
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct bridge_conf c;
	int rc = parse_conf(ctx, &c);

	if (rc < 0 || !c.ipam_type)
		return rc;
	return cni_ipam_exec(ctx, CNI_CMD_STATUS, NULL);
}

static const struct cni_plugin bridge_plugin = {
	.name = "netd-bridge",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(void)
{
	/* a short-lived single-threaded process: a DEL need not wait for the
	 * kernel to release the nftables socket (netd/nft_conn.h) */
	netd_nft_release_in_background(true);
	return cni_main(&bridge_plugin);
}
