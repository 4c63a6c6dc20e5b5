/* nl.h — route netlink over libnl-3: links, addresses, routes,
 * neighbours, FDB, bridge ports. (Requests are built and answers parsed in
 * nl.c with libnl-3's message API; libnl-route's object caches are not used.)
 *
 * A struct netd_nl is a netlink socket bound to one network namespace: open it
 * with the netns fd (or -1 for the current one) and every call acts there, no
 * setns needed. Creation is ensure-style where noted: EEXIST means "verify the
 * existing object has the asked attributes, then succeed".
 *
 * Every call returns 0 (or a value >= 0) or a negative errno, and on failure
 * fills err with what was being done, the kernel's errno text and, when the
 * kernel sent one, its extended-ack message (in err->details and the msg).
 * Interrupted dumps (NLM_F_DUMP_INTR) are retried inside this module.
 * err->code is NETD_ERR_KERNEL, or NETD_ERR_IN_USE for EEXIST, or
 * CNI_ERR_TRY_LATER (-EAGAIN) for a dump that kept changing under us.
 *
 * "Not found" answers that callers routinely expect are returned WITHOUT
 * touching err (so a DEL that ignores them does not leave a stale first
 * error behind): link_get/link_get_index/link_del -ENODEV, addr_del
 * -EADDRNOTAVAIL, route_del -ESRCH, neigh_del/fdb_del -ENOENT. Write your own
 * message if, for you, it is an error.
 *
 * Cost: every call is one request/answer on the socket (lookups are
 * single-object kernel gets, never dumps), so our side stays flat however
 * many links the netns has (the kernel's own bridge port add does grow with
 * the ports a bridge has). The *_list calls and default_route_link dump, the
 * address and route ones filtered by the kernel (NETLINK_GET_STRICT_CHK).
 *
 * Netns fds in option structs: -1 means "none / here"; 0 is a valid fd.
 */
#ifndef NETD_NL_H
#define NETD_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "netd/addr.h"
#include "netd/err.h"

struct netd_nl;

int netd_nl_open(int nsfd, struct netd_nl **out, struct netd_err *err);
void netd_nl_free(struct netd_nl *nl);
/* How many interrupted dumps this handle has started over (for metrics, tests). */
unsigned long netd_nl_dump_retries(const struct netd_nl *nl);

struct netd_link {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[32];		/* "bridge", "veth", "macvlan", "vxlan", "" */
	uint8_t mac[6];
	int mtu;
	bool up;		/* IFF_UP */
	bool promisc;
	int master;		/* ifindex of master, 0 = none */
	int link;		/* IFLA_LINK (veth peer / macvlan parent), 0 = none */
	int link_netnsid;	/* IFLA_LINK_NETNSID, -1 = same netns */
	char alias[256];	/* IFLA_IFALIAS */
	bool vlan_filtering;	/* kind "bridge": IFLA_BR_VLAN_FILTERING */
	uint32_t vni;		/* kind "vxlan": IFLA_VXLAN_ID */
	bool hairpin;		/* a bridge port: IFLA_BRPORT_MODE */
};

/* Look up by name or index; -ENODEV if absent (err untouched). */
int netd_nl_link_get(struct netd_nl *nl, const char *name, struct netd_link *out, struct netd_err *err);
int netd_nl_link_get_index(struct netd_nl *nl, int ifindex, struct netd_link *out, struct netd_err *err);
/* All links; *out is malloc'ed, caller frees. */
int netd_nl_link_list(struct netd_nl *nl, struct netd_link **out, size_t *n, struct netd_err *err);

/* Delete; -ENODEV if it does not exist (callers doing DEL treat that as done;
 * err untouched). Deleting one end of a veth deletes both. */
int netd_nl_link_del(struct netd_nl *nl, int ifindex, struct netd_err *err);
int netd_nl_link_set_up(struct netd_nl *nl, int ifindex, bool up, struct netd_err *err);
int netd_nl_link_set_mtu(struct netd_nl *nl, int ifindex, int mtu, struct netd_err *err);
int netd_nl_link_set_mac(struct netd_nl *nl, int ifindex, const uint8_t mac[6], struct netd_err *err);
int netd_nl_link_set_promisc(struct netd_nl *nl, int ifindex, bool on, struct netd_err *err);
int netd_nl_link_set_master(struct netd_nl *nl, int ifindex, int master, struct netd_err *err);
int netd_nl_link_set_name(struct netd_nl *nl, int ifindex, const char *name, struct netd_err *err);
int netd_nl_link_set_alias(struct netd_nl *nl, int ifindex, const char *alias, struct netd_err *err);
/* Move to netns nsfd and rename to new_name (NULL = keep) in one RTM_NEWLINK.
 * A name already taken in the target is -EEXIST and the link stays here: with
 * new_name, that is looked up in the target first (the kernel would move the
 * link, then fail the rename, leaving it there under its old name). */
int netd_nl_link_move(struct netd_nl *nl, int ifindex, int nsfd, const char *new_name, struct netd_err *err);

/* Bridge: create if missing (with vlan_filtering as asked, up); if a link of
 * that name exists it must be a bridge (else -EEXIST "exists and is not a
 * bridge"). mtu 0 = kernel default. Fills out (may be NULL). An existing
 * bridge is brought up and, if asked, gets VLAN filtering turned on; its MTU
 * and MAC are left as they are. Steady state costs one get. */
struct netd_bridge_opts {
	int mtu;
	bool vlan_filtering;
	const uint8_t *mac;	/* NULL = kernel's */
	/* A bridge this call creates gets IPv6 accept_dad=0 before it comes
	 * up (as podman's netavark does): its link-local address is usable at
	 * once instead of tentative for 1-2 s, during which the kernel sends no
	 * neighbour solicitation from it, so the first packet the host routes
	 * to a new container over IPv6 is lost. The gateway addresses are
	 * added without DAD anyway. Written through /proc/sys of the calling
	 * thread's netns: call from nl's netns. Best effort (no IPv6: nothing
	 * to do). */
	bool no_dad;
	bool created;		/* out: this call created the bridge */
};
int netd_nl_bridge_ensure(struct netd_nl *nl, const char *name, struct netd_bridge_opts *o,
			  struct netd_link *out, struct netd_err *err);

/* veth pair: `host_name` stays in nl's netns, `peer_name` is created straight
 * in netns peer_nsfd, both in one RTM_NEWLINK. mtu 0 = default; peer_mac NULL
 * = random. host_name NULL lets the kernel pick "vethN"... callers pass one.
 * peer_nsfd -1 = peer in nl's netns too. up: the host end is IFF_UP from
 * creation (saves a request; the kernel cannot do it for the peer, which the
 * caller brings up from its own netns). EEXIST (either name taken) is an error. */
struct netd_veth_opts {
	const char *host_name;
	const char *peer_name;
	int peer_nsfd;
	int mtu;
	const uint8_t *peer_mac;
	bool up;
	const uint8_t *host_mac;	/* NULL = random */
	int master;		/* host end's bridge ifindex, 0 = none: enslaved
				 * by the same request, one round trip less */
};
int netd_nl_veth_create(struct netd_nl *nl, const struct netd_veth_opts *o, struct netd_err *err);

enum netd_macvlan_mode { NETD_MACVLAN_BRIDGE, NETD_MACVLAN_PRIVATE, NETD_MACVLAN_VEPA, NETD_MACVLAN_PASSTHRU };
/* macvlan child of ifindex `parent` (in nl's netns), created in one
 * RTM_NEWLINK straight inside target_nsfd under its final `name`. */
struct netd_macvlan_opts {
	const char *name;
	int parent;
	enum netd_macvlan_mode mode;
	int mtu;
	const uint8_t *mac;
	int target_nsfd;	/* -1 = stay */
};
int netd_nl_macvlan_create(struct netd_nl *nl, const struct netd_macvlan_opts *o, struct netd_err *err);

struct netd_vxlan_opts {
	const char *name;
	uint32_t vni;
	struct netd_addr local;	/* family 0 = unset */
	int dev;		/* underlay ifindex, 0 = unset */
	uint16_t port;		/* 0 = 4789 */
	int mtu;
	bool learning;
};
/* Ensure-style: an existing vxlan of that name with the same VNI is success;
 * anything else under that name is -EEXIST. */
int netd_nl_vxlan_create(struct netd_nl *nl, const struct netd_vxlan_opts *o, struct netd_err *err);

/* Bridge port options (IFLA_BRPORT_*), AF_BRIDGE RTM_SETLINK. Read back via
 * netd_link.hairpin. */
int netd_nl_brport_set_hairpin(struct netd_nl *nl, int ifindex, bool on, struct netd_err *err);
/* Bridge VLAN on a port: vid with pvid/untagged flags (bridge vlan add).
 * self = on the bridge device itself (`bridge vlan add ... self`). */
int netd_nl_bridge_vlan_add(struct netd_nl *nl, int ifindex, uint16_t vid, bool pvid, bool untagged,
			    bool self, struct netd_err *err);

/* Addresses. add is ensure-style (EEXIST = fine). nodad for IPv6. IPv4 gets
 * its subnet broadcast address (as `ip addr add ... brd +`). del of a missing
 * address is -EADDRNOTAVAIL. */
int netd_nl_addr_add(struct netd_nl *nl, int ifindex, const struct netd_prefix *p, bool nodad, struct netd_err *err);
int netd_nl_addr_del(struct netd_nl *nl, int ifindex, const struct netd_prefix *p, struct netd_err *err);
/* Addresses on ifindex (0 = all links) of family (0 = both); global scope and
 * link scope both included. *out malloc'ed. */
int netd_nl_addr_list(struct netd_nl *nl, int ifindex, int family, struct netd_prefix **out, size_t *n,
		      struct netd_err *err);

struct netd_route {
	struct netd_prefix dst;	/* len 0 = default route; family required */
	struct netd_addr gw;	/* family 0 = none (link route) */
	int ifindex;		/* 0 = let the kernel pick from gw */
	int metric, table, mtu, advmss;	/* 0 = unset; table 0 = main */
	int scope;		/* -1 = kernel's choice */
	int protocol;		/* read back by route_list (RTPROT_*); add uses boot */
};
/* add is NOT ensure-style: a route with the same table, dst and metric
 * (whatever its gw or device) is -EEXIST, err code NETD_ERR_IN_USE; what
 * that means is the caller's call (ifconf.c picks metrics and tells a
 * duplicate from a conflict). del of a missing route is -ESRCH.
 * add: protocol boot; scope -1 = link for routes without gw, else universe. */
int netd_nl_route_add(struct netd_nl *nl, const struct netd_route *r, struct netd_err *err);
int netd_nl_route_del(struct netd_nl *nl, const struct netd_route *r, struct netd_err *err);
/* Unicast routes of family (AF_INET or AF_INET6, required) in the main table
 * (table 0) or `table`; table reads back as 0 for main. *out malloc'ed.
 * Multipath routes come back with ifindex 0 and no gw. */
int netd_nl_route_list(struct netd_nl *nl, int family, int table, struct netd_route **out, size_t *n,
		       struct netd_err *err);

/* Permanent neighbour entry (ARP/NDP): addr -> mac on ifindex. Replace semantics.
 * del of a missing entry is -ENOENT. */
int netd_nl_neigh_set(struct netd_nl *nl, int ifindex, const struct netd_addr *a, const uint8_t mac[6],
		      struct netd_err *err);
int netd_nl_neigh_del(struct netd_nl *nl, int ifindex, const struct netd_addr *a, struct netd_err *err);
/* FDB entry in the device's own table (NTF_SELF: a vxlan's remote list):
 * mac -> remote dst (family 0 = none). Replace semantics, NUD_PERMANENT;
 * except the all-zero (flood) and multicast MACs, which keep one entry per
 * remote: set appends dst (already there = success), del removes that dst.
 * del of a missing entry is -ENOENT. */
int netd_nl_fdb_set(struct netd_nl *nl, int ifindex, const uint8_t mac[6], const struct netd_addr *dst,
		    struct netd_err *err);
int netd_nl_fdb_del(struct netd_nl *nl, int ifindex, const uint8_t mac[6], const struct netd_addr *dst,
		    struct netd_err *err);

/* Ifindex of the link holding address a, or -EADDRNOTAVAIL (err untouched). */
int netd_nl_addr_owner(struct netd_nl *nl, const struct netd_addr *a, struct netd_err *err);

/* FDB entries with a remote destination in ifindex's own table (a vxlan's
 * remote list: flood entries are the all-zero MAC, one per remote). *out
 * malloc'ed. Entries a bridge learnt for the device as its port are not
 * included. */
struct netd_fdb {
	uint8_t mac[6];
	struct netd_addr dst;
	bool permanent;
};
int netd_nl_fdb_list(struct netd_nl *nl, int ifindex, struct netd_fdb **out, size_t *n, struct netd_err *err);

/* Links whose master is `master` (a bridge's ports), in one dump the kernel
 * filters. *out malloc'ed. */
int netd_nl_link_list_master(struct netd_nl *nl, int master, struct netd_link **out, size_t *n,
			     struct netd_err *err);

/* Ifindex of the link carrying the default route of family (0 = v4 then v6),
 * lowest metric first, or -ENETUNREACH (err set, code 7: config must name a link). */
int netd_nl_default_route_link(struct netd_nl *nl, int family, struct netd_err *err);

#endif
