/* cni_tables.c — the plugins' tables copied and put back (cni_tables.h).
 *
 * Why a copy rather than netd's state: the state knows endpoints, not which
 * of them a plugin masquerades (ipMasq, macspoofchk are the main plugin's
 * config, which netd-endpoint never sees), and conflists written by a
 * runtime never reach netd at all. Why the plugins' record (nft_log.h)
 * rather than nftables events: a DEL that runs while its table is gone
 * removes nothing, so no event says it happened, and no event reaches a
 * netd that is not running. Events only say when to look.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>

#include "netd/nft.h"
#include "netd/nft_copy.h"
#include "cni_tables.h"

#define HEAL_DELAY_MS 50	/* let the deleting transaction's other messages arrive */
#define COPY_DELAY_MS 100	/* one look at the record for a burst of ADDs */
#define HEAL_GAP_MS 200		/* someone who keeps deleting gets at most 5 heals a second */
#define RETRY_MS 1000
#define RETRY_MAX_MS 60000	/* a table an operator made differently refuses each time */

struct netd_cnit {
	struct mnl_socket *ev;
	char *evbuf;
	struct netd_nft_copy copy;
	bool damaged;		/* a deletion since the last heal */
	uint64_t due;		/* CLOCK_MONOTONIC ms of the next tick's work; 0 none */
	uint64_t last_heal;
	unsigned long heals;
	unsigned retry_ms;	/* after failed puts-back in a row: doubles to RETRY_MAX_MS */
	void (*warn)(const char *msg);
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void warn(struct netd_cnit *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct netd_cnit *k, const char *fmt, ...)
{
	char msg[NETD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (k->warn)
		k->warn(msg);
}

static void due_at(struct netd_cnit *k, uint64_t t)
{
	if (!k->due || t < k->due)
		k->due = t;
}

/* What an nftables event means for the plugins' tables: 0 nothing, 1 an
 * element added (apply the record), 2 a deletion (apply the record and put
 * back what is missing). An element deleted counts as a deletion: the
 * record says whether a plugin did it; `nft delete element` or `nft flush
 * set` by someone else is put back like a deleted table. */
static int classify(const struct nlmsghdr *nlh)
{
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*g)))
		return 0;
	if (g->nfgen_family != NFPROTO_INET && g->nfgen_family != NFPROTO_BRIDGE)
		return 0;
	/* the first attribute of table, chain, rule, set and element messages
	 * is the table's name */
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(a) != 1)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0 || strcmp(mnl_attr_get_str(a), NETD_NFT_CNI_TABLE))
			return 0;
		switch (type) {
		case NFT_MSG_DELTABLE:
		case NFT_MSG_DELCHAIN:
		case NFT_MSG_DELSET:
		case NFT_MSG_DELRULE:
		case NFT_MSG_DELSETELEM:
			return 2;
		case NFT_MSG_NEWSETELEM:
			return 1;
		default:
			return 0;
		}
	}
	return 0;
}

void netd_cnit_event(struct netd_cnit *k)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(k->ev, k->evbuf, MNL_SOCKET_BUFFER_SIZE);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0) {
			/* events were lost: a deletion may be among them, and
			 * putting back only adds what is missing */
			if (errno == ENOBUFS) {
				k->damaged = true;
				due_at(k, now_ms() + HEAL_DELAY_MS);
			}
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)k->evbuf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			int c = classify(nlh);

			if (c == 2) {
				k->damaged = true;
				due_at(k, now_ms() + HEAL_DELAY_MS);
			} else if (c == 1 && !k->damaged) {
				due_at(k, now_ms() + COPY_DELAY_MS);
			}
		}
	}
}

/* Events already queued when a heal starts say nothing the heal will not
 * see: it reads the tables and the record as they are now. Left queued, a
 * deletion among them would bring another heal at once, past the back-off
 * (netd's first heal at start racing the deletion that made it fail). */
static void drain(struct netd_cnit *k)
{
	while (mnl_socket_recvfrom(k->ev, k->evbuf, MNL_SOCKET_BUFFER_SIZE) > 0 || errno == EINTR || errno == ENOBUFS)
		;
}

void netd_cnit_tick(struct netd_cnit *k)
{
	struct netd_err err = {0};
	uint64_t now = now_ms();
	size_t restored = 0;
	bool heal;

	if (!k->due || k->due > now)
		return;
	k->due = 0;
	heal = k->damaged;
	if (heal) {
		if (k->last_heal && now < k->last_heal + HEAL_GAP_MS) {
			k->due = k->last_heal + HEAL_GAP_MS;
			return;
		}
		k->last_heal = now;
		k->damaged = false;
		drain(k);
	}
	if (netd_nft_copy_sync(&k->copy, heal, &restored, &err) < 0) {
		if (!heal) {
			warn(k, "tables inet/bridge %s: reading the plugins' record failed, retrying in 1 s: %s",
			     NETD_NFT_CNI_TABLE, err.msg);
			k->due = now + RETRY_MS;
			return;
		}
		k->retry_ms = !k->retry_ms ? RETRY_MS : k->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
										 : k->retry_ms * 2;
		warn(k, "tables inet/bridge %s: %zu of the plugins' elements put back, the rest failed "
			"(retrying in %u s): %s", NETD_NFT_CNI_TABLE, restored, k->retry_ms / 1000, err.msg);
		k->damaged = true;
		k->due = now + k->retry_ms;
		return;
	}
	if (!heal)
		return;
	k->retry_ms = 0;
	if (restored) {
		k->heals++;
		warn(k, "tables inet/bridge %s were changed by someone else: %zu of the plugins' elements "
			"(masquerade, macspoofchk) put back", NETD_NFT_CNI_TABLE, restored);
	}
}

int netd_cnit_timeout_ms(const struct netd_cnit *k)
{
	uint64_t now = now_ms();

	if (!k->due)
		return -1;
	return k->due <= now ? 0 : (int)(k->due - now);
}

int netd_cnit_fd(const struct netd_cnit *k)
{
	return mnl_socket_get_fd(k->ev);
}

int netd_cnit_open(struct netd_cnit **out, void (*warn_fn)(const char *msg), struct netd_err *err)
{
	struct netd_cnit *k = calloc(1, sizeof(*k));
	size_t restored;
	int rc;

	if (!k)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	k->warn = warn_fn;
	k->ev = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	k->evbuf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!k->ev || !k->evbuf || mnl_socket_bind(k->ev, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		rc = errno ? -errno : -ENOMEM;
		netd_cnit_free(k);
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables events: %s", strerror(-rc));
	}
	/* subscribed first, then loaded: a change in between is looked at
	 * again. What went missing while netd was away is put back at the
	 * first tick, with the retries of any heal. */
	if ((rc = netd_nft_copy_sync(&k->copy, false, &restored, err)) < 0) {
		netd_cnit_free(k);
		return rc;
	}
	k->damaged = true;
	k->due = now_ms();
	*out = k;
	return 0;
}

void netd_cnit_free(struct netd_cnit *k)
{
	if (!k)
		return;
	if (k->ev)
		mnl_socket_close(k->ev);
	free(k->evbuf);
	free(k->copy.elems.v);
	free(k);
}

size_t netd_cnit_copied(const struct netd_cnit *k)
{
	return k->copy.elems.n;
}

unsigned long netd_cnit_heals(const struct netd_cnit *k)
{
	return k->heals;
}
