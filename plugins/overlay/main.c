/* netd-overlay — one L2 network across hosts over VXLAN.
 *
 * ADD: validate the whole config (VNI, port, underlay and its address, MTU
 * against the underlay's, peers); lock the network on this host; get
 * addresses from IPAM; ensure the network's bridge and vxlan device (shared
 * by its containers on this host) and make the vxlan's flood list equal to
 * the peers; give the bridge this host's gateway address; create the veth
 * with its container end straight in the netns and the overlay's MTU; give
 * the container its addresses and routes; masquerade what leaves the subnet
 * through this host. Any failure undoes these in reverse, only what this
 * call did, IPAM reservation included.
 * DEL: the container's veth, its address, its masquerade; then, if the
 * bridge has no port left but the vxlan, the bridge and the vxlan.
 * CHECK: verifies each piece and names the first that drifted.
 * GC/STATUS: passed on to IPAM (and masquerade elements for GC).
 *
 * Device names and the shared-device rules are in netd/overlay.h; options in
 * docs/netd-overlay.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "netd/attach.h"
#include "netd/cni.h"
#include "netd/ifconf.h"
#include "netd/lock.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nft.h"
#include "netd/nft_masq.h"
#include "netd/nl.h"
#include "netd/overlay.h"

#define LOCK_TIMEOUT_MS 30000
#define MAX_PEERS 256

struct overlay_conf {
	uint32_t vni;
	uint16_t port;
	int mtu;		/* 0 = underlay's minus the VXLAN overhead */
	const char *underlay;	/* NULL = the default route's interface */
	const json_t *peers;
	bool is_gateway, ip_masq;
	const char *ipam_type;	/* NULL = no IPAM (L2 only) */
};

/* What the host side looks like once the config is checked against it. */
struct overlay_env {
	struct netd_overlay_underlay ul;
	struct netd_addr peers[MAX_PEERS];
	size_t n_peers;
	struct netd_overlay net;
};

struct undo {
	bool devs, veth, masq;
	struct netd_prefix gw_added[8];
	size_t n_gw_added;
};

/* Only the config itself: DEL must work when the underlay is gone. */
static int parse_conf(struct cni_ctx *ctx, struct overlay_conf *c)
{
	const json_t *j = ctx->config;
	struct netd_err *err = &ctx->err;
	long long vni = 0, port = NETD_OVERLAY_PORT, mtu = 0;

	*c = (struct overlay_conf){.is_gateway = true};
	if (!json_object_get(j, "vni"))
		return cni_conf_err(ctx, "field 'vni' is required (1..%u)", NETD_OVERLAY_VNI_MAX);
	if (cni_conf_int(j, "vni", 1, NETD_OVERLAY_VNI_MAX, &vni, err) || cni_conf_int(j, "port", 1, 65535, &port, err) ||
	    cni_conf_int(j, "mtu", 0, 65535, &mtu, err) || cni_conf_str(j, "underlay", &c->underlay, err) ||
	    cni_conf_bool(j, "isGateway", &c->is_gateway, err))
		return -EINVAL;
	c->ip_masq = c->is_gateway;
	if (cni_conf_bool(j, "ipMasq", &c->ip_masq, err))
		return -EINVAL;
	if (mtu && mtu < 68)
		return cni_conf_err(ctx, "mtu %lld is below the minimum of 68", mtu);
	if (c->underlay && !*c->underlay)
		return cni_conf_err(ctx, "field 'underlay' is empty (an interface name or one of this host's addresses)");
	c->vni = (uint32_t)vni;
	c->port = (uint16_t)port;
	c->mtu = (int)mtu;

	c->peers = json_object_get(j, "peers");
	if (c->peers && !json_is_null(c->peers)) {
		size_t i;
		json_t *p;
		struct netd_addr a;

		if (!json_is_array(c->peers))
			return cni_conf_err(ctx, "field 'peers' must be an array of IP addresses");
		if (json_array_size(c->peers) > MAX_PEERS)
			return cni_conf_err(ctx, "field 'peers' has %zu entries, at most %d", json_array_size(c->peers),
					    MAX_PEERS);
		json_array_foreach(c->peers, i, p) {
			if (!json_is_string(p) || netd_addr_parse(json_string_value(p), &a) < 0)
				return cni_conf_err(ctx, "peers[%zu]: %s is not an IP address", i,
						    json_is_string(p) ? json_string_value(p) : "(not a string)");
		}
	} else {
		c->peers = NULL;
	}

	return netd_conf_ipam(ctx, &c->ipam_type);
}

/* The config against this host: the underlay exists and has an address, the
 * peers are of its family, the MTU fits inside it. The host's own address
 * in `peers` is skipped, so every host can be given the same list. */
static int resolve_env(struct cni_ctx *ctx, struct netd_nl *nl, const struct overlay_conf *c, struct overlay_env *e)
{
	char buf[NETD_ADDR_STRLEN];
	int rc, max;
	size_t i;
	json_t *p;

	memset(e, 0, sizeof(*e));
	if (c->underlay) {
		if ((rc = netd_overlay_underlay(nl, c->underlay, &e->ul, &ctx->err)) < 0)
			return rc;
	} else {
		if ((rc = netd_nl_default_route_link(nl, 0, &ctx->err)) < 0) {
			memset(&ctx->err, 0, sizeof(ctx->err));
			return cni_conf_err(ctx, "no 'underlay' given and this host has no default route to take it from");
		}
		struct netd_link l;

		if ((rc = netd_nl_link_get_index(nl, rc, &l, &ctx->err)) < 0 ||
		    (rc = netd_overlay_underlay(nl, l.name, &e->ul, &ctx->err)) < 0)
			return rc;
	}
	max = e->ul.mtu - netd_overlay_overhead(e->ul.local.family);
	if (c->mtu > max)
		return cni_conf_err(ctx, "mtu %d is above what underlay %s (MTU %d) carries: at most %d", c->mtu,
				    e->ul.name, e->ul.mtu, max);
	if (max < 68)
		return cni_conf_err(ctx, "underlay %s has MTU %d, too small for VXLAN", e->ul.name, e->ul.mtu);

	json_array_foreach(c->peers, i, p) {
		struct netd_addr a;

		netd_addr_parse(json_string_value(p), &a);
		if (a.family != e->ul.local.family)
			return cni_conf_err(ctx, "peers[%zu]: %s is not of the underlay's family (local address %s)", i,
					    json_string_value(p), netd_addr_str(&e->ul.local, buf));
		if (netd_addr_eq(&a, &e->ul.local))
			continue;
		bool dup = false;
		for (size_t k = 0; k < e->n_peers; k++)
			dup |= netd_addr_eq(&e->peers[k], &a);
		if (!dup)
			e->peers[e->n_peers++] = a;
	}
	e->net = (struct netd_overlay){.network = ctx->network, .vni = c->vni, .port = c->port,
				       .mtu = c->mtu ? c->mtu : max, .underlay = &e->ul};
	return 0;
}

/* Per network and per host: the netns identity keeps simulated hosts that
 * share /run from waiting on each other. */
static int lock_network(struct cni_ctx *ctx, const struct overlay_conf *c)
{
	struct stat st;
	char name[64];

	if (stat("/proc/self/ns/net", &st) < 0)
		st.st_ino = 0;
	snprintf(name, sizeof(name), "overlay-%u-%lu", c->vni, (unsigned long)st.st_ino);
	return netd_lock_acquire(cni_getenv(ctx->envp, "NETD_LOCK_DIR"), name, LOCK_TIMEOUT_MS, &ctx->err);
}

/* Host end of the veth: "veth" + 11 hex digits of a hash of the endpoint. */
static void host_ifname(const struct cni_ctx *ctx, char out[IFNAMSIZ])
{
	char owner[33];

	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	snprintf(out, IFNAMSIZ, "veth%.11s", owner + 8);
}

/* This host's gateway address on the overlay bridge: another address of the
 * subnet there is an error (two hosts' configs would be mixed up). */
static int ensure_gateway(struct cni_ctx *ctx, struct netd_nl *nl, const struct netd_link *br,
			  const struct netd_prefix *gw, struct undo *u)
{
	struct netd_prefix *have = NULL;
	char a[NETD_PREFIX_STRLEN], b[NETD_PREFIX_STRLEN];
	size_t n = 0;
	bool here = false;
	int rc;

	if ((rc = netd_nl_addr_list(nl, br->ifindex, gw->addr.family, &have, &n, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		if (netd_addr_eq(&have[i].addr, &gw->addr))
			here = true;
		else if (netd_prefix_contains(gw, &have[i].addr) && have[i].len == gw->len)
			rc = netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE,
					  "bridge %s already has address %s, not this host's gateway %s", br->name,
					  netd_prefix_str(&have[i], a), netd_prefix_str(gw, b));
	}
	free(have);
	if (rc < 0 || here)
		return rc;
	if ((rc = netd_nl_addr_add(nl, br->ifindex, gw, true, &ctx->err)) == 0 &&
	    u->n_gw_added < sizeof(u->gw_added) / sizeof(u->gw_added[0]))
		u->gw_added[u->n_gw_added++] = *gw;
	if (rc == 0) {
		const char *key = gw->addr.family == AF_INET ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
		char v[8] = "";

		if (netns_sysctl_get(-1, key, v, sizeof(v), NULL) < 0 || strcmp(v, "1"))
			rc = netns_sysctl_set(-1, key, "1", &ctx->err);
	}
	return rc;
}

static void undo_add(struct cni_ctx *ctx, struct netd_nl *nl, const struct overlay_conf *c,
		     const struct netd_overlay_devs *d, const char *veth, const char *owner, const struct undo *u)
{
	struct netd_link l;
	struct netd_err e = {0};

	struct netd_nft_del_req q = {.owner = owner, .masq = true};

	if (u->masq && netd_nft_del(&q, &e) < 0)
		log_warn("undo: nftables: %s", e.msg);
	if (u->veth && netd_nl_link_get(nl, veth, &l, NULL) == 0 && netd_nl_link_del(nl, l.ifindex, &e) < 0)
		log_warn("undo: delete %s: %s", veth, e.msg);
	for (size_t i = 0; d->bridge.ifindex && i < u->n_gw_added; i++)
		netd_nl_addr_del(nl, d->bridge.ifindex, &u->gw_added[i], NULL);
	/* The network's devices go only if no other container uses them. */
	if ((u->devs || d->created_bridge || d->created_vxlan) && netd_overlay_release(nl, c->vni, ctx->network, &e) < 0)
		log_warn("undo: overlay devices of VNI %u: %s", c->vni, e.msg);
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	struct overlay_env env;
	struct netd_overlay_devs devs = {0};
	struct undo u = {0};
	struct netd_nl *nl = NULL, *ctr_nl = NULL;
	struct netd_attach a = {.lock = -1, .nsfd = -1};
	struct cni_result *ipam = NULL;
	struct netd_link host, ctr, existing;
	char veth[IFNAMSIZ], owner[33];
	int rc, nsfd = -1, lock = -1;
	bool gateway = false;

	/* 1. parse and validate everything before touching anything */
	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	host_ifname(ctx, veth);
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	if ((rc = netd_nl_open(-1, &nl, &ctx->err)) < 0 || (rc = resolve_env(ctx, nl, &c, &env)) < 0)
		goto out;
	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0 || (rc = netd_nl_open(nsfd, &ctr_nl, &ctx->err)) < 0)
		goto out;
	if (netd_nl_link_get(ctr_nl, ctx->ifname, &existing, NULL) == 0) {
		rc = netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE, "interface %s already exists in netns %s",
				  ctx->ifname, ctx->netns);
		goto out;
	}
	if ((lock = rc = lock_network(ctx, &c)) < 0)
		goto out;

	/* 2. addresses: the kit's IPAM step (a repeated ADD is refused, a
	 * failure releases only what this ADD reserved, in netd_attach_end) */
	if ((rc = netd_attach_begin(&a, ctx, NULL, 0)) < 0)
		goto out;
	if ((rc = netd_attach_ipam_add(&a, c.ipam_type)) < 0)
		goto fail;
	ipam = a.ipam;

	/* 3. the network's devices on this host, and where its frames go */
	struct netd_overlay_remotes rem = {.vteps = env.peers, .n_vteps = env.n_peers};
	if ((rc = netd_overlay_ensure(nl, &env.net, &devs, &ctx->err)) < 0)
		goto fail;
	u.devs = true;
	if ((rc = netd_overlay_apply(nl, devs.vxlan.ifindex, &rem, &ctx->err)) < 0)
		goto fail;

	/* 4. this host's gateway: egress leaves through the host it runs on */
	for (size_t i = 0; c.is_gateway && ipam && i < ipam->n_ips; i++) {
		struct netd_prefix gw = {.addr = ipam->ips[i].gateway, .len = ipam->ips[i].address.len};

		if (!gw.addr.family)
			continue;
		if ((rc = ensure_gateway(ctx, nl, &devs.bridge, &gw, &u)) < 0)
			goto fail;
		gateway = true;
	}

	/* 5. the veth pair: container end straight into the netns, host end
	 * into the bridge and up, in one request */
	struct netd_veth_opts vo = {.host_name = veth, .peer_name = ctx->ifname, .peer_nsfd = nsfd,
				    .mtu = env.net.mtu, .master = devs.bridge.ifindex, .up = true};
	if ((rc = netd_nl_veth_create(nl, &vo, &ctx->err)) < 0)
		goto fail;
	u.veth = true;
	{
		char key[64];

		/* a bridge port needs no IPv6 of its own (see netd-bridge) */
		snprintf(key, sizeof(key), "net/ipv6/conf/%s/disable_ipv6", veth);
		netns_sysctl_set(-1, key, "1", NULL);
	}

	/* 6. inside the container */
	if ((rc = netd_nl_link_get(ctr_nl, ctx->ifname, &ctr, &ctx->err)) < 0 ||
	    (rc = netd_ifconf_apply(ctr_nl, ctr.ifindex, ipam, gateway, &ctx->err)) < 0 ||
	    (rc = netd_nl_link_get(nl, veth, &host, &ctx->err)) < 0)
		goto fail;

	/* 7. masquerade what leaves the subnet */
	for (size_t i = 0; c.ip_masq && gateway && i < ipam->n_ips; i++) {
		if ((rc = netd_nft_masq_add(&ipam->ips[i].address, owner, &ctx->err)) < 0)
			goto fail;
		u.masq = true;
	}

	if ((rc = netd_ifconf_result_host(ctx, &devs.bridge)) < 0 || (rc = netd_ifconf_result_host(ctx, &host)) < 0 ||
	    (rc = netd_ifconf_result(ctx, &ctr, ipam, gateway)) < 0)
		goto fail;
	goto out;

fail:
	netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "overlay VNI %u", c.vni);
	undo_add(ctx, nl, &c, &devs, veth, owner, &u);
out:
	if (a.ctx)
		netd_attach_end(&a, rc);
	netd_lock_release(lock);
	netd_nl_free(ctr_nl);
	netd_nl_free(nl);
	if (nsfd >= 0)
		close(nsfd);
	return rc;
}

/* DEL keeps going after an error and reports the first; nothing left to
 * remove is success (no prior ADD, netns gone, second DEL). */
static int cmd_del(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	struct netd_nl *nl = NULL, *ctr_nl = NULL;
	struct netd_link l;
	char veth[IFNAMSIZ], owner[33];
	struct netd_err first = {0};
	int rc, lock = -1, nsfd = -1;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	host_ifname(ctx, veth);
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	if ((lock = rc = lock_network(ctx, &c)) < 0)
		return rc;
	if ((rc = netd_nl_open(-1, &nl, &ctx->err)) < 0) {
		netd_lock_release(lock);
		return rc;
	}

	/* Either end removes the pair: the container's while its netns is
	 * there, else the host end if the kernel has not removed it yet. */
	if (ctx->netns && (nsfd = netns_open(ctx->netns, NULL)) >= 0 && netd_nl_open(nsfd, &ctr_nl, NULL) == 0 &&
	    netd_nl_link_get(ctr_nl, ctx->ifname, &l, NULL) == 0 && !strcmp(l.kind, "veth")) {
		if ((rc = netd_nl_link_del(ctr_nl, l.ifindex, &ctx->err)) < 0 && rc != -ENODEV)
			netd_err_collect(&first, &ctx->err);
	}
	if (netd_nl_link_get(nl, veth, &l, NULL) == 0 && (rc = netd_nl_link_del(nl, l.ifindex, &ctx->err)) < 0 &&
	    rc != -ENODEV)
		netd_err_collect(&first, &ctx->err);

	if (netd_ipam_run(ctx, c.ipam_type, CNI_CMD_DEL) < 0)
		netd_err_collect(&first, &ctx->err);
	if (c.ip_masq) {
		struct netd_nft_del_req q = {.owner = owner, .masq = true};

		if (netd_nft_del(&q, &ctx->err) < 0)
			netd_err_collect(&first, &ctx->err);
	}
	if (netd_overlay_release(nl, c.vni, ctx->network, &ctx->err) < 0)
		netd_err_collect(&first, &ctx->err);

	netd_lock_release(lock);
	netd_nl_free(ctr_nl);
	netd_nl_free(nl);
	if (nsfd >= 0)
		close(nsfd);
	return netd_err_collected(&first, &ctx->err);
}

static int check_peers(struct cni_ctx *ctx, struct netd_nl *nl, const struct overlay_env *env,
		       const struct netd_link *vx)
{
	static const uint8_t zero[6];
	struct netd_fdb *have = NULL;
	char buf[NETD_ADDR_STRLEN];
	size_t n = 0;
	int rc;

	if ((rc = netd_nl_fdb_list(nl, vx->ifindex, &have, &n, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; i < env->n_peers && !rc; i++) {
		bool found = false;

		for (size_t k = 0; k < n; k++)
			found |= !memcmp(have[k].mac, zero, 6) && netd_addr_eq(&have[k].dst, &env->peers[i]);
		if (!found)
			rc = cni_drift(ctx, "%s has no flood entry for peer %s", vx->name,
				       netd_addr_str(&env->peers[i], buf));
	}
	free(have);
	return rc;
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	struct overlay_env env;
	struct netd_nl *nl = NULL, *ctr_nl = NULL;
	struct netd_link br, vx, host, ctr;
	char brname[IFNAMSIZ], vxname[IFNAMSIZ], veth[IFNAMSIZ], owner[33], buf[NETD_PREFIX_STRLEN];
	int rc, nsfd = -1, ci;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if (!ctx->prev)
		return cni_conf_err(ctx, "CHECK needs prevResult");
	host_ifname(ctx, veth);
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, owner);
	netd_overlay_names(c.vni, brname, vxname);
	if ((rc = netd_ipam_run(ctx, c.ipam_type, CNI_CMD_CHECK)) < 0)
		return rc;
	if ((rc = netd_nl_open(-1, &nl, &ctx->err)) < 0 || (rc = resolve_env(ctx, nl, &c, &env)) < 0)
		goto out;
	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0 || (rc = netd_nl_open(nsfd, &ctr_nl, &ctx->err)) < 0)
		goto out;
	if (netd_nl_link_get(nl, brname, &br, NULL) < 0 || strcmp(br.kind, "bridge")) {
		rc = cni_drift(ctx, "bridge %s does not exist", brname);
		goto out;
	}
	if (netd_nl_link_get(nl, vxname, &vx, NULL) < 0 || strcmp(vx.kind, "vxlan") || vx.vni != c.vni) {
		rc = cni_drift(ctx, "vxlan %s of VNI %u does not exist", vxname, c.vni);
		goto out;
	}
	if (vx.master != br.ifindex || !vx.up) {
		rc = cni_drift(ctx, "vxlan %s is not an up port of bridge %s", vxname, brname);
		goto out;
	}
	if ((rc = check_peers(ctx, nl, &env, &vx)) < 0)
		goto out;
	if (netd_nl_link_get(nl, veth, &host, NULL) < 0 || host.master != br.ifindex) {
		rc = cni_drift(ctx, "host end %s of %s's veth is not a port of bridge %s", veth, ctx->ifname, brname);
		goto out;
	}
	if (netd_nl_link_get(ctr_nl, ctx->ifname, &ctr, NULL) < 0) {
		rc = cni_drift(ctx, "interface %s does not exist in netns %s", ctx->ifname, ctx->netns);
		goto out;
	}
	if ((ci = cni_result_find_iface(ctx->prev, ctx->ifname, true)) < 0) {
		rc = cni_drift(ctx, "prevResult has no interface %s in a sandbox", ctx->ifname);
		goto out;
	}
	if (ctr.mtu != env.net.mtu) {
		rc = cni_drift(ctx, "interface %s has MTU %d, not the overlay's %d", ctx->ifname, ctr.mtu, env.net.mtu);
		goto out;
	}
	if ((rc = netd_ifconf_check(ctx, ctr_nl, ci, &ctr)) < 0)
		goto out;
	for (size_t i = 0; c.ip_masq && i < ctx->prev->n_ips; i++) {
		if (!ctx->prev->ips[i].gateway.family)
			continue;
		rc = netd_nft_masq_has(&ctx->prev->ips[i].address, owner, &ctx->err);
		if (rc == 0)
			rc = cni_drift(ctx, "masquerade for %s is missing from table inet %s",
				       netd_prefix_str(&ctx->prev->ips[i].address, buf), NETD_NFT_CNI_TABLE);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	netd_nl_free(ctr_nl);
	netd_nl_free(nl);
	if (nsfd >= 0)
		close(nsfd);
	return rc;
}

/* GC: IPAM frees reservations; masquerade elements of this network that no
 * valid attachment owns go too. Veths of vanished containers went with their
 * netns; the shared devices go with the last DEL. */
static int cmd_gc(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	char (*owners)[33] = NULL;
	const char **keep = NULL;
	size_t n = ctx->n_valid;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if ((rc = netd_ipam_run(ctx, c.ipam_type, CNI_CMD_GC)) < 0)
		return rc;
	if (!c.ip_masq)
		return 0;
	owners = calloc(n + 1, sizeof(*owners));
	keep = calloc(n + 1, sizeof(*keep));
	if (!owners || !keep) {
		rc = netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "GC: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		netd_nft_owner(ctx->network, ctx->valid[i].container_id, ctx->valid[i].ifname, owners[i]);
		keep[i] = owners[i];
	}
	rc = netd_nft_masq_gc(ctx->network, keep, n, &ctx->err);
out:
	free(owners);
	free(keep);
	return rc;
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	int rc = parse_conf(ctx, &c);

	if (rc < 0 || !c.ipam_type)
		return rc;
	return netd_ipam_run(ctx, c.ipam_type, CNI_CMD_STATUS);
}

static const struct cni_plugin overlay_plugin = {
	.name = "netd-overlay",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(void)
{
	return cni_main(&overlay_plugin);
}
