/* overlay.h — one VXLAN overlay network on one host: its shared devices and
 * the FDB entries that carry its frames to the other hosts.
 *
 * On each host a network is a bridge and a vxlan device (learning off) that is
 * a port of it; containers are veths into the bridge. Both are named after
 * the VNI, "ndob<VNI>" and "ndov<VNI>" (at most 12 characters), so two
 * networks on a host can only meet if they share a VNI, and then the
 * bridge's alias ("netd-overlay <network>") tells whose it is.
 *
 * Who is where is data, not config: struct netd_overlay_remotes lists the
 * VTEPs that get broadcast, unknown-unicast and multicast frames (one
 * all-zero FDB entry each) and the endpoints already known (MAC -> VTEP).
 * netd_overlay_apply() makes the vxlan's remote list equal to it, adding
 * what is missing and removing what is not listed. netd-overlay fills it
 * from its config's `peers`; netd, learning VTEPs and endpoints from a
 * shared store, will fill it from there and call the same function.
 *
 * Whether the network is still in use on a host is read from the kernel
 * (does the bridge have a port other than the vxlan?), never from files, so
 * simulated hosts sharing one filesystem do not see each other.
 */
#ifndef NETD_OVERLAY_H
#define NETD_OVERLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "netd/addr.h"
#include "netd/err.h"
#include "netd/nl.h"

#define NETD_OVERLAY_VNI_MAX 16777215u
#define NETD_OVERLAY_PORT 4789

/* "ndob<vni>" and "ndov<vni>". */
void netd_overlay_names(uint32_t vni, char bridge[IFNAMSIZ], char vxlan[IFNAMSIZ]);

/* The underlay, from `spec`: an interface name, or one of this host's
 * addresses (its interface is then the one that holds it). With a name, the
 * local address is its first IPv4 address, else its first global IPv6 one.
 * Errors (code 7): no such interface or address, an interface without one. */
struct netd_overlay_underlay {
	int ifindex;
	char name[IFNAMSIZ];
	struct netd_addr local;
	int mtu;
};
int netd_overlay_underlay(struct netd_nl *nl, const char *spec, struct netd_overlay_underlay *out,
			  struct netd_err *err);
/* What VXLAN adds to a frame: 50 bytes over IPv4, 70 over IPv6. */
int netd_overlay_overhead(int family);

struct netd_overlay {
	const char *network;	/* owner, kept in the bridge's alias */
	uint32_t vni;
	uint16_t port;		/* 0 = 4789 */
	int mtu;		/* of the bridge, the vxlan and each veth */
	const struct netd_overlay_underlay *underlay;
};

/* Ensure the bridge and the vxlan (a port of it, both up). An existing
 * bridge of another network is -EEXIST (code NETD_ERR_IN_USE). created_*
 * say what this call made. */
struct netd_overlay_devs {
	struct netd_link bridge, vxlan;
	bool created_bridge, created_vxlan;
};
int netd_overlay_ensure(struct netd_nl *nl, const struct netd_overlay *o, struct netd_overlay_devs *out,
			struct netd_err *err);

struct netd_overlay_endpoint {
	uint8_t mac[6];
	struct netd_addr vtep;
};
struct netd_overlay_remotes {
	const struct netd_addr *vteps;
	size_t n_vteps;
	const struct netd_overlay_endpoint *endpoints;
	size_t n_endpoints;
};
/* Make the vxlan's remote list exactly r: flood entries for r->vteps,
 * unicast entries for r->endpoints. Steady state costs one dump. */
int netd_overlay_apply(struct netd_nl *nl, int vxlan, const struct netd_overlay_remotes *r,
		       struct netd_err *err);

/* After a container left: if the bridge has no port but the vxlan, delete
 * both. 1 = removed (or already gone), 0 = still in use or the bridge
 * belongs to another network than `network` (its alias). */
int netd_overlay_release(struct netd_nl *nl, uint32_t vni, const char *network, struct netd_err *err);

#endif
