/* nft_macspoof.h — macspoofchk (as the reference bridge plugin's option):
 * frames entering a bridge from a guarded port (a container's host-side
 * veth) whose source MAC is not the container's are dropped, in table
 * `bridge netd_cni`:
 *
 *   chain macspoof { type filter hook prerouting priority -300; }
 *     iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow drop
 *
 * macspoof_ifaces holds the guarded port names (comment "<owner> <mac>", so
 * DEL finds the allow element without listing that set), macspoof_allow
 * "port . mac" (comment "<owner>"): lookups stay flat in the number of
 * containers. Owners, lock, one batch per change and repair: nft.h.
 */
#ifndef NETD_NFT_MACSPOOF_H
#define NETD_NFT_MACSPOOF_H

#include <stddef.h>
#include <stdint.h>

#include "netd/err.h"
#include "netd/nft_table.h"

/* Guard host_ifname for mac. Idempotent for the same owner; a port held by
 * another owner or with another MAC is taken over (the name was reused). */
int netd_nft_macspoof_add(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err);
/* For CHECK: 1 if `owner` guards host_ifname with mac and the rule is
 * intact, 0 if not, <0 error. */
int netd_nft_macspoof_has(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err);
/* Remove elements of `network` (owner prefix) whose owner is not in
 * keep[0..n), including allow elements left without their port. */
int netd_nft_macspoof_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err);

/* For netd_nft_del: inside a netd_nft_locked() op, append to b the removal
 * of the port `owner` guards: host_ifname's (one GET; a port guarded for
 * another owner is left alone), or with host_ifname NULL every port the
 * owner has (lists macspoof_ifaces). */
int netd_nft_macspoof_batch_del(struct netd_nft_conn *c, struct netd_nft_batch *b, const char *owner,
				const char *host_ifname, struct netd_err *err);
bool netd_nft_macspoof_ifname_ok(const char *ifname);

/* The table's description, for nft_copy.h (copy and put back). */
const struct netd_nft_table *netd_nft_macspoof_table(void);

#endif
