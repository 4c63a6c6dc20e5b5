/* overlay.c — see netd/overlay.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/cni.h"
#include "netd/overlay.h"

#define ALIAS_PREFIX "netd-overlay "

void netd_overlay_names(uint32_t vni, char bridge[IFNAMSIZ], char vxlan[IFNAMSIZ])
{
	snprintf(bridge, IFNAMSIZ, "ndob%u", vni);
	snprintf(vxlan, IFNAMSIZ, "ndov%u", vni);
}

int netd_overlay_overhead(int family)
{
	/* outer Ethernet 14 + IP (20 or 40) + UDP 8 + VXLAN 8 */
	return family == AF_INET6 ? 70 : 50;
}

static bool link_local6(const struct netd_addr *a)
{
	return a->family == AF_INET6 && a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

int netd_overlay_underlay(struct netd_nl *nl, const char *spec, struct netd_overlay_underlay *out,
			  struct netd_err *err)
{
	struct netd_prefix *addrs = NULL;
	struct netd_link l;
	struct netd_addr a;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (netd_addr_parse(spec, &a) == 0) {
		rc = netd_nl_addr_owner(nl, &a, err);
		if (rc == -EADDRNOTAVAIL)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "underlay %s is not an address of this host", spec);
		if (rc < 0)
			return rc;
		if ((rc = netd_nl_link_get_index(nl, rc, &l, err)) < 0)
			return rc;
		out->local = a;
	} else {
		rc = netd_nl_link_get(nl, spec, &l, err);
		if (rc == -ENODEV)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "underlay %s: no such interface or address", spec);
		if (rc < 0)
			return rc;
		if ((rc = netd_nl_addr_list(nl, l.ifindex, 0, &addrs, &n, err)) < 0)
			return rc;
		for (size_t i = 0; i < n && !out->local.family; i++)
			if (addrs[i].addr.family == AF_INET)
				out->local = addrs[i].addr;
		for (size_t i = 0; i < n && !out->local.family; i++)
			if (!link_local6(&addrs[i].addr))
				out->local = addrs[i].addr;
		free(addrs);
		if (!out->local.family)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "underlay %s has no IPv4 or global IPv6 address", spec);
	}
	out->ifindex = l.ifindex;
	out->mtu = l.mtu;
	snprintf(out->name, sizeof(out->name), "%s", l.name);
	return 0;
}

int netd_overlay_ensure(struct netd_nl *nl, const struct netd_overlay *o, struct netd_overlay_devs *out,
			struct netd_err *err)
{
	char br[IFNAMSIZ], vx[IFNAMSIZ], alias[256];
	struct netd_bridge_opts bo = {.mtu = o->mtu, .no_dad = true};
	struct netd_vxlan_opts vo = {.vni = o->vni, .port = o->port, .mtu = o->mtu, .learning = false,
				     .local = o->underlay->local, .dev = o->underlay->ifindex};
	int rc;

	memset(out, 0, sizeof(*out));
	netd_overlay_names(o->vni, br, vx);
	snprintf(alias, sizeof(alias), ALIAS_PREFIX "%s", o->network);

	if ((rc = netd_nl_bridge_ensure(nl, br, &bo, &out->bridge, err)) < 0)
		return rc;
	out->created_bridge = bo.created;
	if (bo.created) {
		if ((rc = netd_nl_link_set_alias(nl, out->bridge.ifindex, alias, err)) < 0)
			return rc;
	} else if (strcmp(out->bridge.alias, alias)) {
		return netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
				    "VNI %u is in use on this host by %s (bridge %s has alias '%s', not '%s')", o->vni,
				    strncmp(out->bridge.alias, ALIAS_PREFIX, strlen(ALIAS_PREFIX)) ? "something else"
											 : "another network",
				    br, out->bridge.alias, alias);
	}

	vo.name = vx;
	if (netd_nl_link_get(nl, vx, &out->vxlan, NULL) < 0) {
		if ((rc = netd_nl_vxlan_create(nl, &vo, err)) < 0)
			return rc;
		out->created_vxlan = true;
		if ((rc = netd_nl_link_get(nl, vx, &out->vxlan, err)) < 0)
			return rc;
	} else if (strcmp(out->vxlan.kind, "vxlan") || out->vxlan.vni != o->vni) {
		return netd_err_set(err, -EEXIST, NETD_ERR_IN_USE, "%s exists and is not the vxlan of VNI %u", vx,
				    o->vni);
	}
	if (out->vxlan.master != out->bridge.ifindex &&
	    (rc = netd_nl_link_set_master(nl, out->vxlan.ifindex, out->bridge.ifindex, err)) < 0)
		return rc;
	if (!out->vxlan.up && (rc = netd_nl_link_set_up(nl, out->vxlan.ifindex, true, err)) < 0)
		return rc;
	out->vxlan.master = out->bridge.ifindex;
	out->vxlan.up = true;
	return 0;
}

static bool is_zero_mac(const uint8_t m[6])
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static bool wanted(const struct netd_overlay_remotes *r, const struct netd_fdb *e)
{
	if (is_zero_mac(e->mac)) {
		for (size_t i = 0; i < r->n_vteps; i++)
			if (netd_addr_eq(&r->vteps[i], &e->dst))
				return true;
		return false;
	}
	for (size_t i = 0; i < r->n_endpoints; i++)
		if (!memcmp(r->endpoints[i].mac, e->mac, 6) && netd_addr_eq(&r->endpoints[i].vtep, &e->dst))
			return true;
	return false;
}

static bool present(const struct netd_fdb *have, size_t n, const uint8_t mac[6], const struct netd_addr *dst)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(have[i].mac, mac, 6) && netd_addr_eq(&have[i].dst, dst))
			return true;
	return false;
}

int netd_overlay_apply(struct netd_nl *nl, int vxlan, const struct netd_overlay_remotes *r, struct netd_err *err)
{
	static const uint8_t zero[6];
	struct netd_fdb *have = NULL;
	size_t n = 0;
	int rc;

	if ((rc = netd_nl_fdb_list(nl, vxlan, &have, &n, err)) < 0)
		return rc;
	/* Stale entries go first: a unicast MAC moving to another VTEP is then
	 * a plain add. */
	for (size_t i = 0; i < n && rc >= 0; i++)
		if (!wanted(r, &have[i]) && (rc = netd_nl_fdb_del(nl, vxlan, have[i].mac, &have[i].dst, err)) == -ENOENT)
			rc = 0;
	for (size_t i = 0; i < r->n_vteps && rc >= 0; i++)
		if (!present(have, n, zero, &r->vteps[i]))
			rc = netd_nl_fdb_set(nl, vxlan, zero, &r->vteps[i], err);
	for (size_t i = 0; i < r->n_endpoints && rc >= 0; i++)
		if (!present(have, n, r->endpoints[i].mac, &r->endpoints[i].vtep))
			rc = netd_nl_fdb_set(nl, vxlan, r->endpoints[i].mac, &r->endpoints[i].vtep, err);
	free(have);
	return rc < 0 ? rc : 0;
}

int netd_overlay_release(struct netd_nl *nl, uint32_t vni, const char *network, struct netd_err *err)
{
	char br[IFNAMSIZ], vx[IFNAMSIZ], alias[256];
	struct netd_link b, v, *ports = NULL;
	size_t n = 0;
	int rc;

	netd_overlay_names(vni, br, vx);
	snprintf(alias, sizeof(alias), ALIAS_PREFIX "%s", network);
	if (netd_nl_link_get(nl, br, &b, NULL) == 0 && !strcmp(b.kind, "bridge")) {
		if (strcmp(b.alias, alias) && b.alias[0])
			return 0;	/* not ours (a bridge without alias is one whose ADD failed early) */
		if ((rc = netd_nl_link_list_master(nl, b.ifindex, &ports, &n, err)) < 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (strcmp(ports[i].name, vx)) {
				free(ports);
				return 0;
			}
		free(ports);
	} else {
		b.ifindex = 0;
	}
	/* The vxlan first: the bridge then has no port left to flood to. */
	if (netd_nl_link_get(nl, vx, &v, NULL) == 0 && !strcmp(v.kind, "vxlan") &&
	    (rc = netd_nl_link_del(nl, v.ifindex, err)) < 0 && rc != -ENODEV)
		return rc;
	if (b.ifindex && (rc = netd_nl_link_del(nl, b.ifindex, err)) < 0 && rc != -ENODEV)
		return rc;
	return 1;
}
