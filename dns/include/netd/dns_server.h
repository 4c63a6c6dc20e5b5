/* dns_server.h — the resolver containers talk to: listeners inside their
 * network namespaces, answers from the record store, everything else
 * forwarded upstream with c-ares.
 *
 * One listener per view (a container's netns): a UDP and a TCP socket on
 * 127.0.0.11 created inside that netns (whose `lo` is brought up if it is
 * down), so queries arrive already labelled with their asker. They listen
 * on ports the kernel picks, and a small nftables table in the netns
 * (netd/nft_dns.h) sends 127.0.0.11:53 there, leaving :53 to the
 * container; where nftables is unavailable they listen on :53 itself. Every
 * socket, c-ares' included, sits on the server's own epoll fd, which the
 * caller puts in its loop: when it is readable, call dns_server_run(s, 0);
 * at the latest after dns_server_timeout_ms(), call it too (upstream
 * timeouts). Or the caller's loop waits in dns_server_run() itself, its own
 * epoll fd nested in the server's (dns_server_nest), as netd's does.
 * Each socket is served a bounded number of queries per run (DNS_BURST; over
 * UDP read with one recvmmsg and answered with one sendmmsg), and each
 * container holds at most DNS_PENDING_PER_VIEW queries upstream at once
 * (more are SERVFAIL at once), so a container flooding its resolver, even
 * with names its upstream never answers, cannot starve the others.
 *
 * Upstreams: a view's own servers (the network's dns.nameservers, given at
 * dns_server_put), else those of the host's resolv.conf (read once, at
 * dns_server_new, with netd/resolv.h) in netd's namespace. A query upstream fails with SERVFAIL after at most
 * DNS_UPSTREAM_DEADLINE_MS (c-ares: 2 tries, 1 s then 2 s per server).
 * A server that stopped answering is passed over: queries start with the
 * one that answered instead, and the first is tried again after 30 s.
 * Their answers are kept for their TTL (netd/dns_cache.h, keyed by the
 * view's servers too) and a repeated name is answered from there; the
 * store is asked first, so names of netd's never come from the cache.
 *
 * Not thread-safe; one loop owns it.
 */
#ifndef NETD_DNS_SERVER_H
#define NETD_DNS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/dns_cache.h"
#include "netd/dns_store.h"
#include "netd/err.h"

#define DNS_UPSTREAM_TIMEOUT_MS 1000
#define DNS_UPSTREAM_TRIES 2
/* with one server; each additional server adds its tries */
#define DNS_UPSTREAM_DEADLINE_MS 3000
#define DNS_TCP_IDLE_MS 10000		/* an idle TCP client is closed after this */
#define DNS_TCP_PER_LISTENER 16		/* connections at once per container */
#define DNS_BURST 16			/* queries per socket per run */
#define DNS_PENDING_PER_VIEW 256	/* forwarded queries in flight per container */

#define DNS_LATENCY_BUCKETS 8
extern const double dns_latency_bounds_ms[DNS_LATENCY_BUCKETS]; /* the last is +Inf */

struct dns_stats {
	unsigned long long queries;	/* well-formed or not, UDP and TCP */
	unsigned long long by_rcode[16];	/* answers sent, by the header's rcode */
	unsigned long long badvers;	/* of by_rcode[0]: BADVERS, an extended rcode (low bits 0) */
	unsigned long long local;	/* answered from the store */
	unsigned long long forwarded;	/* sent upstream */
	unsigned long long upstream_failed;	/* of those, answered SERVFAIL */
	size_t upstream_pending;	/* in flight now */
	unsigned long long dropped;	/* not worth an answer (responses, runts) */
	unsigned long long upstream_latency[DNS_LATENCY_BUCKETS];	/* cumulative counts per bound */
	double upstream_latency_sum_ms;
	size_t listeners;
	size_t listeners_direct;	/* of those, on :53 itself (no nftables in that netns) */
	size_t listeners_waiting;	/* put `later`, not open yet */
};

struct dns_server;

/* upstreams: the host's resolv.conf (NULL: /etc/resolv.conf). */
int dns_server_new(const char *resolv_conf, struct dns_server **out, struct netd_err *err);
void dns_server_free(struct dns_server *s);
int dns_server_fd(const struct dns_server *s);
/* Wait up to timeout_ms (0: not at all, -1: no limit) for the server's
 * sockets, serve what is ready and the upstream timeouts that are due.
 * Returns 1 if the nested fd (below) is ready, else 0; -errno if epoll fails. */
int dns_server_run(struct dns_server *s, int timeout_ms);
/* The other way round: the caller's own epoll fd goes on the server's, and
 * the caller waits in dns_server_run() and looks at its fd only when that
 * says so. A busy resolver's turn is then one epoll_wait, not two. */
int dns_server_nest(struct dns_server *s, int fd);
int dns_server_timeout_ms(struct dns_server *s);
const struct dns_stats *dns_server_stats(const struct dns_server *s);
struct dns_store *dns_server_store(struct dns_server *s);
/* The answer cache: DNS_CACHE_ENTRIES_DEFAULT entries from the start; a new,
 * empty one of this size (0: none kept). 0 or -ENOMEM (the old one stays). */
int dns_server_cache_size(struct dns_server *s, size_t entries);
const struct dns_cache_stats *dns_server_cache_stats(const struct dns_server *s);

/* Add or replace an endpoint's records (ep->view is the netns path) and make
 * sure its view has a listener. upstreams: addresses (no port) or none. The
 * records stay even when the listener cannot be opened (err says why; e.g.
 * the netns is gone): other containers still resolve this one.
 * later: the listener waits for dns_server_restore_next() (a restart puts
 * every record first, so that each listener answers from all of them as
 * soon as it is back); a put without `later` opens a waiting one at once. */
int dns_server_put(struct dns_server *s, const struct dns_ep_info *ep, const char *const *upstreams,
		   size_t n_upstreams, bool later, struct netd_err *err);
/* Open one waiting listener: 1 opened, 0 none waits, <0 it could not be
 * opened (err says why; dropped as a failed put's, its records stay). */
int dns_server_restore_next(struct dns_server *s, struct netd_err *err);
/* Remove an endpoint; its view's listener closes (or stops waiting) with
 * its last endpoint, and the redirect table in that netns goes with it. */
void dns_server_del(struct dns_server *s, const char *id);

/* Does the view have a listener, open or waiting for the restore (no: its
 * netns could not be entered, or netd is out of descriptors)? */
bool dns_server_listening(const struct dns_server *s, const char *view);

/* What a query from `view` would get and why, decided as a real query is
 * (dns_store_explain on the same store, then the view's upstream): fn hears
 * every record and every reason. For DNS_STORE_FORWARD, servers gets the
 * upstream's addresses (","-joined), and *own whether they are the view's
 * network servers rather than the host's. *listening: does the view have an
 * open listener (no: its netns could not be entered, or it still waits). */
enum dns_store_result dns_server_explain(struct dns_server *s, const char *view, const struct dns_query *q,
					 dns_store_why_fn *fn, void *arg, char *servers, size_t size, bool *own,
					 bool *listening);

#endif
