/* conn.h — who holds netd's API connections, and for how long.
 *
 * netd answers one request at a time on one thread, so the way to starve it is
 * to hold connections: idle ones, or ones trickling a byte every few seconds
 * so that no inactivity timeout ever fires. This table ties every connection
 * to its peer's uid (read with SO_PEERCRED at accept, before a byte is read)
 * and gives it a deadline: a whole request must arrive within timeout_ms of the
 * accept, or of the previous answer on that connection.
 *
 * Bounds: a uid holds at most max_per_uid connections, all uids together at
 * most max. A new connection over a bound pushes out the oldest connection
 * that is still waiting for its request — of the same uid for the per-uid
 * bound, of the uid holding the most for the total — so a new client always
 * gets a slot and a flood mostly evicts itself. A connection being answered
 * is pushed out only when its uid has nothing else to give.
 *
 * The table only decides; the caller owns the sockets. A connection it drops
 * (evicted or expired) leaves the counts at once and stays DROPPED until the
 * caller reports the socket closed with netd_conns_del, so an fd number is
 * never reused while still open. Times are CLOCK_MONOTONIC milliseconds.
 */
#ifndef NETD_CONN_H
#define NETD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETD_CONN_MAX_DEFAULT 1024
#define NETD_CONN_MAX_PER_UID_DEFAULT 256
#define NETD_CONN_TIMEOUT_MS_DEFAULT 5000

enum netd_conn_state {
	NETD_CONN_FREE,		/* no connection on this fd */
	NETD_CONN_WAITING,	/* no whole request yet: the deadline runs */
	NETD_CONN_BUSY,		/* a request is being answered */
	NETD_CONN_DROPPED,	/* evicted or expired; the socket is not closed yet */
};

struct netd_conn {
	int prev, next;		/* the list by `since`, oldest first: fd + 1, 0 ends it */
	uid_t uid;
	uint64_t since_ms;	/* accepted, or last answer sent */
	unsigned char state;	/* enum netd_conn_state */
	bool refused;		/* a peer not allowed: answered 403 at accept, draining */
};

struct netd_conns {
	struct netd_conn *c;	/* indexed by fd, grown on demand */
	int cap;
	int head, tail;		/* fd + 1, 0: empty */
	size_t n;		/* WAITING + BUSY */
	struct netd_conn_uid {
		uid_t uid;
		size_t n;
	} *uids;
	size_t n_uids, cap_uids;
	size_t max, max_per_uid;
	unsigned timeout_ms;
	unsigned long long evicted, expired; /* counters for /metrics */
};

/* Empty table with the default bounds (a zeroed one is empty too, with
 * bounds 0: set them before adding). */
void netd_conns_init(struct netd_conns *t);
void netd_conns_fini(struct netd_conns *t);

/* Admit fd (a new connection from uid). *evict is set to a connection to
 * close first (now DROPPED), or -1. -ENOSPC: over a bound with nothing to
 * push out (the caller closes fd); -ENOMEM; -EBADF for a negative fd. */
int netd_conns_add(struct netd_conns *t, int fd, uid_t uid, bool refused, uint64_t now_ms, int *evict);
/* A whole request arrived on fd: no deadline while it is answered. */
void netd_conns_busy(struct netd_conns *t, int fd);
/* The answer on fd was sent: the deadline for the next request starts now. */
void netd_conns_idle(struct netd_conns *t, int fd, uint64_t now_ms);
/* fd is closed (any state; FREE is a no-op). */
void netd_conns_del(struct netd_conns *t, int fd);
/* A connection whose deadline has passed, now DROPPED, or -1: call until -1. */
int netd_conns_expired(struct netd_conns *t, uint64_t now_ms);
/* Milliseconds until the next deadline (0 if one has passed), -1 if none. */
int netd_conns_timeout_ms(const struct netd_conns *t, uint64_t now_ms);
/* The entry for fd, or NULL if fd is beyond the table. */
const struct netd_conn *netd_conns_get(const struct netd_conns *t, int fd);
/* Connections uid holds (WAITING + BUSY). */
size_t netd_conns_of_uid(const struct netd_conns *t, uid_t uid);

#endif
