/* nft_owner.h — who owns what in the plugins' shared tables.
 *
 * The tables named NETD_NFT_CNI_TABLE are shared by every plugin run on the
 * host; each container's entries are set elements tagged with an owner (kept
 * in the element's comment). This module makes the tags and picks what a GC
 * of one network removes; the table modules (nft_masq.h, nft_macspoof.h) call
 * it, and nft.h's one-call DEL calls them.
 */
#ifndef NETD_NFT_OWNER_H
#define NETD_NFT_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/err.h"
#include "netd/nft_conn.h"

#define NETD_NFT_CNI_TABLE "netd_cni"

/* Owner tag for (network, container, ifname): 32 hex characters, stable,
 * the first 8 a hash of the network alone (so GC can select one network).
 * FNV-1a 64 based: hex(fnv(network) >> 32) . hex(h) . hex(h2 >> 32) with
 * h = fnv(network NUL container NUL ifname) and h2 the same bytes hashed
 * again starting from h. Owners given to the nft functions are 1-64
 * characters of [0-9A-Za-z_-]. */
void netd_nft_owner(const char *network, const char *container_id, const char *ifname, char out[33]);
bool netd_nft_owner_ok(const char *owner);

/* GC of one network in a table module: runs op(conn, struct netd_nft_gc *)
 * under the lock; op removes the elements netd_nft_gc_picks() picks: those
 * whose owner belongs to `network` and is absent from keep[0..n). `what`
 * names the table's job in the error ("masquerade gc of network x");
 * `tables` (NETD_NFT_LOG_* of nft_log.h) says which table the GC was
 * for in netd's record, which notes it even when it found nothing. */
struct netd_nft_gc {
	char prefix[9];
	const char *const *keep;
	size_t n;
	netd_nft_op op;
	unsigned tables;
};
int netd_nft_gc(const char *network, const char *const *keep, size_t n, netd_nft_op op, const char *what,
		unsigned tables, struct netd_err *err);
bool netd_nft_gc_picks(const struct netd_nft_gc *g, const char *owner);

#endif
