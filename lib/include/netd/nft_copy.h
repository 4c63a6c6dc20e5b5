/* nft_copy.h — a copy of the plugins' tables (masquerade in `inet
 * netd_cni`, macspoofchk in `bridge netd_cni`: every element with its owner
 * comment), and putting it back after someone else deleted them.
 *
 * The plugins are short-lived: after `nft flush ruleset` or a firewall
 * reload nothing of theirs runs to notice that masquerade is gone. netd
 * does (netd/cni_tables.c): it keeps a copy made from the plugins' own
 * record of their changes (nft_log.h), so a DEL that found its table gone,
 * or one done while netd was not running, is in it, and puts back what is
 * missing. Putting back only adds: an element already there is left as it
 * is (a plugin that ran meanwhile wins), nothing is removed, and each
 * table's fixed rules are repaired when they are not exactly what the
 * plugins make. Every call takes the host-wide lock (nft_conn.h).
 */
#ifndef NETD_NFT_COPY_H
#define NETD_NFT_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "netd/err.h"
#include "netd/nft_table.h"

/* Every element of both tables into *out (emptied first; free(out->v)).
 * Missing tables read as empty. */
int netd_nft_copy_read(struct netd_nft_elems *out, struct netd_err *err);

/* One nftables event applied to the copy: an element added to or deleted
 * from one of the plugins' sets is added to or removed from it, so that a
 * deletion (a plugin's DEL) just before a flush is not put back from a copy
 * read before it. Other messages are ignored. 0 or -ENOMEM. */
struct nlmsghdr;
int netd_nft_copy_event(struct netd_nft_elems *copy, const struct nlmsghdr *nlh);

/* Put back the elements of copy that are missing, in one batch, with each
 * table that has any of them (its skeleton repaired if needed). *restored:
 * how many were missing and are back. An element that the kernel refuses
 * (an overlapping range added since) is skipped; the first such refusal
 * is in err and the call returns <0 after putting back the rest. */
int netd_nft_copy_restore(const struct netd_nft_elems *copy, size_t *restored, struct netd_err *err);

/* netd's copy, kept from the record: zero it to start, free(k->elems.v). */
struct netd_nft_copy {
	struct netd_nft_elems elems;
	size_t log_off;		/* bytes of the log already applied */
	bool loaded;
};
/* Under the lock, k brought up to date: the first call (and any after the
 * record ended) loads the copy file and the log, or, with no copy file,
 * reads the tables and starts the record; later calls apply what the log
 * gained. Then, with restore, the missing elements are put back as
 * netd_nft_copy_restore() does. */
int netd_nft_copy_sync(struct netd_nft_copy *k, bool restore, size_t *restored, struct netd_err *err);

#endif
