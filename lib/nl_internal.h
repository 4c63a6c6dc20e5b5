/* nl_internal.h — what nl.c (transport, links, addresses, routes) and
 * nl_neigh.c (neighbours, FDB, the overlay's listings) share; nothing else
 * includes it (the interface is netd/nl.h). The helpers keep their short
 * names inside those two files; the defines below give them library-wide
 * names, so no other module can clash with them.
 */
#ifndef NETD_NL_INTERNAL_H
#define NETD_NL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "netd/nl.h"

/* Interrupted dumps are repeated this many times, then reported. */
#define DUMP_ATTEMPTS 5

struct netd_nl {
	struct nl_sock *sk;
	struct nl_cb *cb;
	/* the request in flight */
	unsigned int seq;
	bool done;
	int kerr;		/* errno the kernel answered, 0 = none */
	char extack[256];	/* its extended-ack message, "" = none */
	int (*parse)(struct nlmsghdr *nlh, void *arg);
	void *parse_arg;
	int parse_rc;
	unsigned long dump_retries;	/* interrupted dumps started over, ever */
};

typedef int (*parse_fn)(struct nlmsghdr *nlh, void *arg);

/* A growable array of fixed-size records, filled by dump parsers. */
struct vec {
	void *v;
	size_t n, cap, size;
	void *filter;		/* parser-specific */
};

#define fail netd_nl__fail
#define fail_link netd_nl__fail_link
#define vec_push netd_nl__vec_push
#define dump netd_nl__dump
#define new_msg netd_nl__new_msg
#define link_msg netd_nl__link_msg
#define parse_link netd_nl__parse_link
#define change netd_nl__change
#define family_ok netd_nl__family_ok

/* The error of the request in flight (kernel errno, ext-ack) into err. */
__attribute__((format(printf, 4, 5)))
int fail(struct netd_nl *nl, struct netd_err *err, int rc, const char *fmt, ...);
/* Like fail() for an operation on link ifindex, naming the link. */
__attribute__((format(printf, 5, 6)))
int fail_link(struct netd_nl *nl, struct netd_err *err, int rc, int ifindex, const char *fmt, ...);
void *vec_push(struct vec *v);
/* The one place dumps happen (retried when interrupted). */
int dump(struct netd_nl *nl, struct nl_msg *(*build)(const void *ctx), const void *ctx, parse_fn parse,
	 struct vec *v);
struct nl_msg *new_msg(int type, int flags, const void *hdr, size_t len);
struct nl_msg *link_msg(int type, int flags, int family, int ifindex);
int parse_link(struct nlmsghdr *nlh, struct netd_link *l);
/* Send a change request, wait for its ack; frees m. */
int change(struct netd_nl *nl, struct nl_msg *m);
bool family_ok(int family);

#endif
