/* nft_conn.h — one netfilter netlink connection, the exchange of a request
 * or batch with the kernel, the host-wide nftables lock, and how the socket
 * is released.
 *
 * A table module (nft_masq.c, nft_macspoof.c, later netd's own table and
 * the DNS redirect table) does its work in an op run by netd_nft_locked():
 * the lock is taken, a connection opened, op(conn) runs its reads and one
 * batch (nft_table.h), then lock and connection are dropped.
 *
 * Releasing a netfilter socket after a deletion waits for the kernel's RCU
 * grace period (10-16 ms). A library call does not fork unless the program
 * asked for it: a short-lived, single-threaded plugin calls
 * netd_nft_release_in_background(true) once, and from then on such a
 * release is handed to a detached grandchild (double fork) that holds
 * nothing else (stdout above all). A daemon leaves it off and pays the wait
 * inline, or keeps its connection open (netd_nft_conn_open/close directly).
 */
#ifndef NETD_NFT_CONN_H
#define NETD_NFT_CONN_H

#include <stdbool.h>
#include <stdint.h>

struct nlmsghdr;

#include "netd/err.h"

/* The flock every netd_nft_locked() caller takes; its first 8 bytes hold the
 * CLOCK_MONOTONIC time of the last committed deletion by any of us. */
#define NETD_NFT_LOCK "/run/netd/nft.lock"

struct mnl_socket;

struct netd_nft_conn {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *rbuf;
	bool deleted;		/* a batch with deletions went out */
};

/* Open (and bind) a socket in the current network namespace. */
int netd_nft_conn_open(struct netd_nft_conn *c, struct netd_err *err);
/* Close it here; waits for the kernel when c->deleted (see above). */
void netd_nft_conn_close(struct netd_nft_conn *c);

/* Opt in to releasing sockets in a detached grandchild (see above). For
 * single-threaded programs only: it forks. Off by default. */
void netd_nft_release_in_background(bool on);

/* One exchange: messages with sequence numbers seq_lo..seq_last were sent;
 * read until the last is acked (or, for a dump, NLMSG_DONE). Messages that
 * carry data go to cb. The kernel's first error, its sequence number and
 * extended-ack text are kept. */
typedef int (*netd_nft_msg_cb)(const struct nlmsghdr *nlh, void *data);

struct netd_nft_wait {
	uint32_t seq_lo, seq_last;
	bool dump;
	netd_nft_msg_cb cb;
	void *data;
	/* results */
	int error;		/* negative errno from the kernel, 0 */
	uint32_t error_seq;
	char ext[256];
	bool intr;		/* the dump was interrupted: ask again */
};

/* 0 or -errno of the transport; kernel errors land in w->error. */
int netd_nft_conn_wait(struct netd_nft_conn *c, struct netd_nft_wait *w);
/* Send one built request (nlh->nlmsg_seq must be w->seq_lo == w->seq_last)
 * and wait for its answer. */
int netd_nft_conn_ask(struct netd_nft_conn *c, const struct nlmsghdr *nlh, struct netd_nft_wait *w);

/* Under the host-wide lock, with a fresh connection: rc = op(c, arg, err).
 * The connection's release follows the rule above. Returns op's rc or the
 * lock's / socket's error. */
typedef int (*netd_nft_op)(struct netd_nft_conn *c, void *arg, struct netd_err *err);
int netd_nft_locked(netd_nft_op op, void *arg, struct netd_err *err);

#endif
