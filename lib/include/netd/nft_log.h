/* nft_log.h — the plugins' record of what they change in their tables
 * (`inet netd_cni`, `bridge netd_cni`), kept for netd beside the lock.
 *
 * netd keeps a copy of those tables to put back after a flush (nft_copy.h).
 * nftables events cannot tell it everything: a DEL that ran while the table
 * was gone removed nothing the kernel could report, and nothing at all is
 * seen while netd is not running. So the plugins say what they did. While
 * netd's copy file exists (netd has run in this network namespace since
 * boot), each committed batch of theirs appends its element messages to
 * the log, and each DEL appends a "gone" record for its owner, whether or
 * not it found anything (each GC one for its network's owners but the
 * kept ones). Both happen under the lock (nft_conn.h), after
 * the commit. netd replays the log onto its copy under the same lock and
 * folds it into the copy file, so copy file + log is always what the
 * plugins made.
 *
 * Files: /run/netd/nft-<netns cookie>.copy and .log (simulated hosts share
 * /run/netd, never a cookie). Records are netlink messages: NEWSETELEM and
 * DELSETELEM exactly as sent to the kernel, NETD_NFT_LOG_GONE (payload the
 * owner, NUL-terminated; nlmsg_flags which tables) and NETD_NFT_LOG_GC
 * (payload the network's 8-character owner prefix, then each kept owner,
 * each NUL-terminated; nlmsg_flags which tables). A log grown past
 * NETD_NFT_LOG_MAX (netd stopped for long) ends the record: both files go,
 * and netd starts again from what the tables hold.
 */
#ifndef NETD_NFT_LOG_H
#define NETD_NFT_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "netd/err.h"
#include "netd/nft_conn.h"

#define NETD_NFT_LOG_GONE 0x10		/* record types: not nftables messages */
#define NETD_NFT_LOG_GC 0x11
#define NETD_NFT_LOG_MASQ 1		/* gone flags: inet netd_cni */
#define NETD_NFT_LOG_MACSPOOF 2		/* bridge netd_cni */
#define NETD_NFT_LOG_MAX (16u << 20)

struct netd_nft_table;

/* Whether t is one of the plugins' tables, whose changes are recorded. */
bool netd_nft_log_wants(const struct netd_nft_table *t);

struct netd_nft_log_files {
	char copy[64], log[64];
};

/* The files of c's network namespace. 0 or -errno. */
int netd_nft_log_files(struct netd_nft_conn *c, struct netd_nft_log_files *f);

/* Under the lock, after a commit: the element messages among msgs[0..len)
 * appended to the log; nothing when there is no copy file. */
int netd_nft_log_append(struct netd_nft_conn *c, const void *msgs, size_t len, struct netd_err *err);
/* Under the lock: owner's elements in `tables` (NETD_NFT_LOG_* flags) are
 * gone, found or not; nothing when there is no copy file. */
int netd_nft_log_gone(struct netd_nft_conn *c, const char *owner, unsigned tables, struct netd_err *err);

/* Under the lock, after a GC (nft_owner.h): every owner of g's network but
 * the kept ones is gone from g->tables, found or not. */
struct netd_nft_gc;
int netd_nft_log_gc(struct netd_nft_conn *c, const struct netd_nft_gc *g, struct netd_err *err);

/* path's bytes from off to its end into *buf (malloc'd, free it). 0, or
 * -ENOENT when the file does not exist, or -errno. */
int netd_nft_log_read(const char *path, size_t off, char **buf, size_t *len);
/* Under the lock: the copy file replaced by copy[0..len) (which starts the
 * record when there was none), then the log emptied. */
int netd_nft_log_commit(const struct netd_nft_log_files *f, const void *copy, size_t len, struct netd_err *err);

#endif
