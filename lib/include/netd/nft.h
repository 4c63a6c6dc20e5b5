/* nft.h — the plugins' nftables, as one include: owner tags, and DEL of
 * everything an owner has in both of the plugins' tables in one call.
 *
 * The plugins' rules live in tables named NETD_NFT_CNI_TABLE: masquerade in
 * `inet netd_cni` (nft_masq.h), macspoofchk in `bridge netd_cni`
 * (nft_macspoof.h). Those tables are shared by every plugin run on the host,
 * so nothing in them is ever flushed: each container's entries are set
 * elements tagged with an owner (a hash of network name, container id and
 * ifname, kept in the element's comment), and DEL/GC remove exactly the
 * elements they own. Each change is one netlink batch after its reads, under
 * the host-wide lock (nft_conn.h); the tables are described as data
 * (nft_table.h) and repaired in the same batch when they drifted.
 *
 * A plugin (a short-lived, single-threaded process) calls
 * netd_nft_release_in_background(true) once before any of these, so that a
 * DEL does not wait 10-16 ms for the kernel (nft_conn.h says why).
 */
#ifndef NETD_NFT_H
#define NETD_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/addr.h"
#include "netd/err.h"
#include "netd/nft_conn.h"
#include "netd/nft_macspoof.h"
#include "netd/nft_masq.h"
#include "netd/nft_owner.h"

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

/* Cost (2-core VM, kernel 6.18): masq_add ~0.1-0.25 ms up to 1,000 elements
 * (two reads + one batch; macspoof_add ~0.1 ms); masq_add grows slowly beyond
 * (~0.8 ms at 10,000) because the kernel clones the concatenated interval set
 * per transaction. Anything that deletes commits in ~0.2 ms; with the
 * release in the background a DEL costs ~1-2 ms, the two forks (~0.4 ms,
 * more for a big caller, far more under ASAN) included. On a host where
 * netd runs, each change also appends to netd's record (nft_log.h): ~30 us.
 * bench/nft.c measures it. */

#endif
