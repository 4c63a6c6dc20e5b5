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
#include <sys/stat.h>

#include "netd/attach.h"
#include "netd/cni.h"
#include "netd/ifconf.h"
#include "netd/nft.h"
#include "netd/nl.h"
#include "netd/overlay.h"

#define MAX_PEERS 256

struct overlay_conf {
	uint32_t vni;
	uint16_t port;
	int mtu;		/* 0 = underlay's minus the VXLAN overhead */
	const char *underlay;	/* NULL = the default route's interface */
	const json_t *peers;
	bool is_gateway, ip_masq;
	const char *ipam_type;	/* NULL = no IPAM (L2 only) */
	/* derived */
	char lock[64], veth[IFNAMSIZ], owner[33];
};

/* What the host side looks like once the config is checked against it. */
struct overlay_env {
	struct netd_overlay_underlay ul;
	struct netd_addr peers[MAX_PEERS];
	size_t n_peers;
	struct netd_overlay net;
};

/* The lock is per network and per host: the netns identity keeps simulated
 * hosts that share /run from waiting on each other. The veth's host end is
 * "veth" + 11 hex digits of a hash of the endpoint. */
static void derive_names(const struct cni_ctx *ctx, struct overlay_conf *c)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		st.st_ino = 0;
	snprintf(c->lock, sizeof(c->lock), "overlay-%u-%lu", c->vni, (unsigned long)st.st_ino);
	netd_nft_owner(ctx->network, ctx->container_id, ctx->ifname, c->owner);
	snprintf(c->veth, sizeof(c->veth), "veth%.11s", c->owner + 8);
}

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
	derive_names(ctx, c);

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

/* ---- ADD, step by step; each pushes the undo of what it did ---- */

/* The network's devices go only if no other container uses them. */
static void undo_devs(struct netd_attach *a, void *data)
{
	netd_overlay_release(a->host, *(uint32_t *)data, a->ctx->network, &a->ctx->err);
}

/* The network's bridge and vxlan on this host, shared by its containers,
 * and the vxlan's flood list equal to the peers. Their removal is pushed
 * also when ensuring them failed halfway. */
static int network_up(struct netd_attach *a, const struct overlay_conf *c, const struct overlay_env *env,
		      struct netd_overlay_devs *devs)
{
	struct netd_overlay_remotes rem = {.vteps = env->peers, .n_vteps = env->n_peers};
	int rc = netd_overlay_ensure(a->host, &env->net, devs, &a->ctx->err);

	if ((rc == 0 || devs->created_bridge || devs->created_vxlan) &&
	    netd_attach_undo_push(a, undo_devs, &c->vni, sizeof(c->vni)) < 0)
		return -ENOMEM;
	if (rc < 0)
		return rc;
	return netd_overlay_apply(a->host, devs->vxlan.ifindex, &rem, &a->ctx->err);
}

/* This host's gateway on the overlay bridge: egress leaves through the host
 * a container runs on. Another address of the subnet there is an error (two
 * hosts' configs would be mixed up). *any: a gateway was set. */
static int gateways(struct netd_attach *a, const struct overlay_conf *c, const struct netd_link *br, bool *any)
{
	int rc;

	*any = false;
	for (size_t i = 0; c->is_gateway && a->ipam && i < a->ipam->n_ips; i++) {
		struct netd_prefix gw = {.addr = a->ipam->ips[i].gateway, .len = a->ipam->ips[i].address.len};

		if (!gw.addr.family)
			continue;
		if ((rc = netd_attach_gateway(a, br, &gw, false)) < 0)
			return rc;
		*any = true;
	}
	return 0;
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	struct overlay_env env;
	struct netd_overlay_devs devs = {0};
	struct netd_attach a;
	struct netd_link host, ctr;
	bool gateway;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0)
		return rc;
	if ((rc = netd_attach_begin(&a, ctx, c.lock, NETD_ATTACH_HOST | NETD_ATTACH_CTR)) < 0)
		return rc;
	if ((rc = resolve_env(ctx, a.host, &c, &env)) < 0)
		return netd_attach_end(&a, rc);
	if ((rc = netd_attach_ipam_add(&a, c.ipam_type)) < 0 || (rc = network_up(&a, &c, &env, &devs)) < 0 ||
	    (rc = gateways(&a, &c, &devs.bridge, &gateway)) < 0)
		goto out;
	struct netd_veth_opts vo = {.host_name = c.veth, .mtu = env.net.mtu, .master = devs.bridge.ifindex, .up = true};
	if ((rc = netd_attach_veth(&a, &vo, gateway, &ctr)) < 0 ||
	    (rc = netd_nl_link_get(a.host, c.veth, &host, &ctx->err)) < 0 ||
	    (c.ip_masq && gateway && (rc = netd_attach_masq(&a, c.owner)) < 0))
		goto out;
	/* the result: prevResult's pieces, the bridge, the host end, the container */
	if ((rc = netd_ifconf_result_host(ctx, &devs.bridge)) < 0 || (rc = netd_ifconf_result_host(ctx, &host)) < 0 ||
	    (rc = netd_attach_result(&a, &ctr, gateway)) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "overlay VNI %u", c.vni);
	return netd_attach_end(&a, rc);
}

/* DEL: the veth, the masquerade, and the network's devices when this was
 * their last container; nothing left to remove is success. */
static int cmd_del(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	struct netd_attach a;
	struct netd_link l;
	int rc;

	/* a short-lived single-threaded process: DEL and GC need not wait for
	 * the kernel to release the nftables socket (netd/nft_conn.h) */
	netd_nft_release_in_background(true);
	if ((rc = parse_conf(ctx, &c)) < 0 ||
	    (rc = netd_attach_del_begin(&a, ctx, c.lock, NETD_ATTACH_HOST | NETD_ATTACH_CTR_IF_THERE, c.ipam_type)) < 0)
		return rc;
	/* Either end removes the pair: the container's while its netns is
	 * there, else the host end if the kernel has not removed it yet. */
	if (!netd_attach_del_ctr_link(&a, "veth") && netd_nl_link_get(a.host, c.veth, &l, NULL) == 0 &&
	    (rc = netd_nl_link_del(a.host, l.ifindex, &ctx->err)) < 0 && rc != -ENODEV)
		netd_attach_collect(&a);
	if (c.ip_masq && netd_nft_del(&(struct netd_nft_del_req){.owner = c.owner, .masq = true}, &ctx->err) < 0)
		netd_attach_collect(&a);
	if (netd_overlay_release(a.host, c.vni, ctx->network, &ctx->err) < 0)
		netd_attach_collect(&a);
	return netd_attach_del_end(&a);
}

/* ---- CHECK ---- */

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

/* The host side: bridge, vxlan port of it with the flood list, our veth's
 * host end a port of it. */
static int check_network(struct netd_attach *a, const struct overlay_conf *c, const struct overlay_env *env)
{
	struct cni_ctx *ctx = a->ctx;
	struct netd_link br, vx, host;
	char brname[IFNAMSIZ], vxname[IFNAMSIZ];
	int rc;

	netd_overlay_names(c->vni, brname, vxname);
	if (netd_nl_link_get(a->host, brname, &br, NULL) < 0 || strcmp(br.kind, "bridge"))
		return cni_drift(ctx, "bridge %s does not exist", brname);
	if (netd_nl_link_get(a->host, vxname, &vx, NULL) < 0 || strcmp(vx.kind, "vxlan") || vx.vni != c->vni)
		return cni_drift(ctx, "vxlan %s of VNI %u does not exist", vxname, c->vni);
	if (vx.master != br.ifindex || !vx.up)
		return cni_drift(ctx, "vxlan %s is not an up port of bridge %s", vxname, brname);
	if ((rc = check_peers(ctx, a->host, env, &vx)) < 0)
		return rc;
	if (netd_nl_link_get(a->host, c->veth, &host, NULL) < 0 || host.master != br.ifindex)
		return cni_drift(ctx, "host end %s of %s's veth is not a port of bridge %s", c->veth, ctx->ifname,
				 brname);
	return 0;
}

/* Masquerade was set up when the container got a gateway here. */
static bool prev_has_gateway(const struct cni_ctx *ctx)
{
	for (size_t i = 0; i < ctx->prev->n_ips; i++)
		if (ctx->prev->ips[i].gateway.family)
			return true;
	return false;
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	struct overlay_env env;
	struct netd_attach a;
	struct netd_link ctr;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 ||
	    (rc = netd_attach_check_begin(&a, ctx, c.ipam_type, NETD_ATTACH_HOST | NETD_ATTACH_CTR, &ctr)) < 0)
		return rc;
	if ((rc = resolve_env(ctx, a.host, &c, &env)) == 0 && (rc = check_network(&a, &c, &env)) == 0 &&
	    (rc = netd_attach_check_link(ctx, a.ctr, &ctr, "veth", env.net.mtu)) == 0 && c.ip_masq &&
	    prev_has_gateway(ctx))
		rc = netd_attach_check_masq(ctx, c.owner);
	return netd_attach_end(&a, rc);
}

/* ---- GC, STATUS ---- */

/* GC (under the lock): IPAM frees reservations; masquerade elements of this
 * network that no valid attachment owns go too. Veths of vanished
 * containers went with their netns; the shared devices go with the last
 * DEL. */
static int cmd_gc(struct cni_ctx *ctx)
{
	struct overlay_conf c;
	int rc = parse_conf(ctx, &c);

	netd_nft_release_in_background(true); /* see cmd_del */
	return rc < 0 ? rc : netd_attach_gc(ctx, c.lock, c.ipam_type, c.ip_masq, false);
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct overlay_conf c;

	return parse_conf(ctx, &c) < 0 ? -EINVAL : netd_ipam_run(ctx, c.ipam_type, CNI_CMD_STATUS);
}

CNI_PLUGIN_MAIN("netd-overlay", cmd_add, cmd_del, cmd_check, cmd_gc, cmd_status)
