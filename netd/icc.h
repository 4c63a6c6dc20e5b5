/* icc.h — table `bridge <name>`: per-network icc=false and links.
 *
 * Containers on one bridge talk at layer 2; inet hooks never see that traffic
 * (unless br_netfilter is loaded), so isolation inside a network lives in a
 * bridge-family table. A network whose record has options {"icc": "false"}
 * lets its containers reach each other only along links: a container that
 * links another (`--link db:database`, the record's `links`) reaches it on
 * the ports the linked container exposes (`--expose 3306/tcp`, `expose`).
 * The gateway (the host) and published ports stay reachable as before.
 *
 * Its sets are computed from the state, for icc=false networks only, and
 * written whole (flush + fill) in the caller's batch, so a change elsewhere
 * costs nothing here.
 */
#ifndef NETD_ICC_H
#define NETD_ICC_H

#include <stdbool.h>

#include "daemon.h"
#include "netd/nft_table.h"

/* Is `network` an icc=false network in s? */
bool netd_icc_off(const struct netd_state *s, const char *network);

/* Append to b: the table's skeleton, its sets emptied, and every element
 * for the state s as it will be once `put` replaces the endpoint of its id
 * (put NULL: none) and the endpoint `gone` (NULL: none) is removed. -ENOMEM. */
int netd_icc_batch(struct netd_nft_batch *b, const char *table, const struct netd_state *s,
		   const struct netd_ep *put, const char *gone);

#endif
