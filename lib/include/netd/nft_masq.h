/* nft_masq.h — source NAT (masquerade) for container addresses in table
 * `inet netd_cni`, as the reference ipMasq: traffic from `addr` to anything
 * outside its subnet (and not multicast) is masqueraded.
 *
 *   chain postrouting { type nat hook postrouting priority srcnat; }
 *     ip daddr 224.0.0.0/4 return
 *     ip saddr . ip daddr @masq4_local return   (addr . its subnet)
 *     ip saddr @masq4 masquerade                (addr)
 *   and the same for ip6 with ff00::/8, masq6_local, masq6.
 *
 * Each element's comment is "<owner> <subnet>"; the rules are fixed. Lookup
 * cost is flat in the number of containers. Owners, lock, one batch per
 * change and repair: nft.h.
 */
#ifndef NETD_NFT_MASQ_H
#define NETD_NFT_MASQ_H

#include <stddef.h>

#include "netd/addr.h"
#include "netd/err.h"
#include "netd/nft_table.h"

/* Masquerade traffic from addr (host bits set) leaving its subnet.
 * Idempotent for the same owner; an element with the same address but
 * another owner is replaced (the address was reused). Repairs the table. */
int netd_nft_masq_add(const struct netd_prefix *addr, const char *owner, struct netd_err *err);
/* For CHECK: 1 if `owner` has an element for addr (same subnet) and the
 * rules are intact, 0 if not, <0 error. */
int netd_nft_masq_has(const struct netd_prefix *addr, const char *owner, struct netd_err *err);
/* Remove elements of `network` (owner prefix) whose owner is not in
 * keep[0..n). Elements of other networks are untouched. */
int netd_nft_masq_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err);

/* What is in the table, for tests and operators: addr as given to masq_add
 * (the container address with its subnet length) and its owner tag. *out is
 * malloc'd (free() it); no table = 0 entries. */
struct netd_nft_masq_entry {
	struct netd_prefix addr;
	char owner[65];
};
int netd_nft_masq_list(struct netd_nft_masq_entry **out, size_t *n, struct netd_err *err);

/* For netd_nft_del: inside a netd_nft_locked() op, append to b the removal
 * of what `owner` holds: the elements of addrs[0..naddrs) (one GET each),
 * or with addrs NULL every element the owner has (lists masq4, masq6). */
int netd_nft_masq_batch_del(struct netd_nft_conn *c, struct netd_nft_batch *b, const char *owner,
			    const struct netd_addr *addrs, size_t naddrs, struct netd_err *err);

/* The table's description, for nft_copy.h (copy and put back). */
const struct netd_nft_table *netd_nft_masq_table(void);

#endif
