/* nft.h — the plugins' nftables: source NAT (masquerade) for container
 * addresses in table `inet netd_cni`, and macspoofchk (drop frames a
 * container sends with a MAC not its own) in table `bridge netd_cni`, through
 * libnftnl + libmnl. No iptables, no `nft` process.
 *
 * The table is shared by every plugin run on the host, so nothing in it is
 * ever flushed: each container address is one element of a set, tagged with
 * an owner (a hash of network name, container id and ifname, kept in the
 * element's userdata), and DEL/GC remove exactly the elements they own.
 * Each change is one netlink batch (after reads under the lock): table,
 * chain, sets and the fixed rules are (re)created if missing or altered and
 * the element added, all or nothing. Only our own chain's rules are ever
 * replaced, atomically, when they drifted. A flock on
 * /run/netd/nft.lock serialises read-check-delete against other plugin runs.
 *
 * Semantics match the reference ipMasq: traffic from `addr` to anything
 * outside `subnet` (and not multicast) is masqueraded.
 */
#ifndef NETD_NFT_H
#define NETD_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/addr.h"
#include "netd/err.h"

#define NETD_NFT_CNI_TABLE "netd_cni"

/* Owner tag for (network, container, ifname): 32 hex characters, stable,
 * the first 8 a hash of the network alone (so GC can select one network). */
void netd_nft_owner(const char *network, const char *container_id, const char *ifname, char out[33]);

/* Masquerade traffic from addr (host bits set) leaving subnet. Idempotent for
 * the same owner; an element with the same address but another owner is
 * replaced (the address was reused) . */
int netd_nft_masq_add(const struct netd_prefix *addr, const char *owner, struct netd_err *err);
/* Remove every element owned by `owner`; none is not an error. */
int netd_nft_masq_del(const char *owner, struct netd_err *err);
/* Does `owner` have an element for addr (same subnet), and are the table's
 * rules intact? 1 yes, 0 no, <0 error. For CHECK. (masq_add repairs both.) */
int netd_nft_masq_has(const struct netd_prefix *addr, const char *owner, struct netd_err *err);
/* Remove elements whose owner tag starts with `network`'s prefix and whose
 * owner is not in keep[0..n). Elements of other networks are untouched. */
int netd_nft_masq_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err);

/* Cheaper DEL when the caller knows the address (e.g. from prevResult): removes
 * addr's elements only if `owner` holds them; absent or owned by someone else
 * is not an error (returns 0) — another owner's reuse of the address wins. */
int netd_nft_masq_del_addr(const struct netd_addr *addr, const char *owner, struct netd_err *err);

/* macspoofchk (as the reference bridge plugin's option): frames entering a
 * bridge from host_ifname (the container's host-side veth) whose source MAC
 * is not `mac` are dropped, in table `bridge netd_cni`:
 *   chain macspoof { type filter hook prerouting priority -300; }
 *     iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow drop
 * macspoof_ifaces holds guarded port names (comment "<owner> <mac>"),
 * macspoof_allow "port . mac" (comment "<owner>"): lookups stay flat in the
 * number of containers. Same owners, lock, batching and repair as above.
 * add: idempotent for the same owner; a port held by another owner or with
 * another MAC is taken over (the name was reused). */
int netd_nft_macspoof_add(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err);
/* Remove the port(s) `owner` guards (lists macspoof_ifaces); none is not an error. */
int netd_nft_macspoof_del(const char *owner, struct netd_err *err);
/* Cheaper DEL when the caller knows the host ifname: one element GET; a
 * port guarded for another owner (name reused) is left alone. */
int netd_nft_macspoof_del_if(const char *host_ifname, const char *owner, struct netd_err *err);
/* For CHECK: 1 if `owner` guards host_ifname with mac and the rule is
 * intact, 0 if not, <0 error. */
int netd_nft_macspoof_has(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err);
/* Remove elements of `network` (owner prefix) whose owner is not in keep[0..n),
 * including allow elements left without their port. */
int netd_nft_macspoof_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err);

/* DEL in one call (one lock, one read per known key, one batch, one socket
 * release): the cheapest DEL path. With addrs (e.g. prevResult's IPs) each
 * masquerade element is found by one GET; with addrs NULL they are found by
 * owner (lists masq4 and masq6: ~1 ms per 1,000 containers). Likewise
 * host_ifname for macspoofchk, else a listing of macspoof_ifaces. Only
 * elements `owner` holds are removed; nothing found is not an error. */
struct netd_nft_del_req {
	const char *owner;
	bool masq;			/* remove masquerade elements */
	const struct netd_addr *addrs;	/* NULL: find them by owner */
	size_t naddrs;
	bool macspoof;			/* remove the macspoofchk guard */
	const char *host_ifname;	/* NULL: find it by owner */
};
int netd_nft_del(const struct netd_nft_del_req *req, struct netd_err *err);

/* What is in the table, for netdctl and tests: addr as given to masq_add
 * (the container address with its subnet length) and its owner tag. */
struct netd_nft_masq_entry {
	struct netd_prefix addr;
	char owner[65];
};
/* *out is malloc'd (free() it), *n entries; no table = 0 entries. */
int netd_nft_masq_list(struct netd_nft_masq_entry **out, size_t *n, struct netd_err *err);

/* Layout, for readers of `nft list table inet netd_cni`:
 *   chain postrouting { type nat hook postrouting priority srcnat; }
 *     ip daddr 224.0.0.0/4 return
 *     ip saddr . ip daddr @masq4_local return   (addr . its subnet)
 *     ip saddr @masq4 masquerade                (addr)
 *   and the same for ip6 with ff00::/8, masq6_local, masq6.
 * Each element's comment is "<owner> <subnet>"; the rules are fixed. The
 * owner tag is FNV-1a 64 based: hex(fnv(network) >> 32) . hex(h) .
 * hex(h2 >> 32) with h = fnv(network NUL container NUL ifname) and h2 the
 * same bytes hashed again starting from h (see nft.c). Owners given to the
 * functions above are 1-64 characters of [0-9A-Za-z_-].
 * Locking: every call takes an exclusive flock on NETD_NFT_LOCK.
 *
 * Cost (2-core VM, kernel 6.18): masq_add ~0.1-0.25 ms up to 1,000 elements
 * (two reads + one batch; macspoof_add ~0.1 ms); masq_add grows slowly beyond
 * (~0.8 ms at 10,000) because the kernel clones the concatenated interval set
 * per transaction. Anything that deletes commits in ~0.2 ms, but releasing a
 * netfilter socket after a deletion waits for the kernel's RCU grace period
 * (10-16 ms; the nft CLI pays it), holding nf_tables' commit mutex. So that
 * release is handed to a detached grandchild (double fork; it closes every
 * other fd, stdout included, and lingers until deletions have been quiet for
 * 60 ms, at most 0.5 s; never a zombie of the caller): a DEL costs ~1-2 ms, the
 * two forks (~0.4 ms, more for a big caller, far more under ASAN) included.
 * A call within 250 ms of anyone's deletion releases the same way (its release
 * would wait too). The lock file also holds the time of the last deletion.
 * Callers must be single-threaded (fork). */
#define NETD_NFT_LOCK "/run/netd/nft.lock"

#endif
