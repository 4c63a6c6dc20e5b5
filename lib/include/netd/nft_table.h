/* nft_table.h — one nftables table described as data, and what every table
 * module needs to keep it: batches, element messages, element reads, and a
 * check that the fixed rules are still what we made.
 *
 * A table module (nft_masq.c, nft_macspoof.c, nft_dns.c for the DNS
 * redirect in a container netns, netd/fw.c for netd's `inet netd` with its
 * port maps and isolation sets) is a `static const struct netd_nft_table`
 * plus its own ops:
 *
 *   static const struct netd_nft_set sets[] = { { "masq4", TYPE, 4, 0 }, ... };
 *   static const struct netd_nft_chain chains[] = {
 *           { "postrouting", "nat", NF_INET_POST_ROUTING, 100, 6, build_rule } };
 *   static const struct netd_nft_table tbl = { NFPROTO_INET, "netd_cni", chains, 1, sets, 4 };
 *
 * and, inside a netd_nft_locked() op (nft_conn.h):
 *   netd_nft_read_elems(c, &tbl, set, key, ...)  one element (GET) or all (dump)
 *   netd_nft_rules_ok(c, &tbl, err)               1 when every chain holds exactly its rules
 *   netd_nft_batch_init(&b, c)
 *   netd_nft_batch_skeleton(&b, &tbl)            table, chains, sets (no-ops when present),
 *                                                each chain's rules flushed and re-added
 *   netd_nft_batch_elems(&b, &tbl, set, NEW/DEL, elems, n, comment)
 *   netd_nft_batch_send(c, &b, err)              all or nothing; names the failing message
 *   netd_nft_batch_free(&b)
 * A batch may carry messages for several tables (one DEL in both of the
 * plugins' tables). Rules are built with netd_nft_rule_new() and the
 * netd_nft_e_* expressions (nft_expr.h), the way the kernel reports them
 * back, so that netd_nft_rules_ok() compares like with like.
 *
 * Elements carry an optional comment (userdata); the table modules keep an
 * owner tag there (nft.h), so DEL and GC remove exactly their own elements.
 */
#ifndef NETD_NFT_TABLE_H
#define NETD_NFT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/err.h"
#include "netd/nft_conn.h"
#include "netd/nft_expr.h"

/* nftables datatype ids (nft's datatype.h); a concatenation's type is the
 * member types shifted in NETD_NFT_TYPE_BITS at a time. */
#define NETD_NFT_TYPE_IPADDR 7
#define NETD_NFT_TYPE_IP6ADDR 8
#define NETD_NFT_TYPE_ETHERADDR 9
#define NETD_NFT_TYPE_IFNAME 41
#define NETD_NFT_TYPE_BITS 6

#define NETD_NFT_KEY_MAX 64
#define NETD_NFT_COMMENT_MAX 128	/* libnftnl's comment limit */
#define NETD_NFT_ELEMS_PER_MSG 200	/* keeps one message far below netlink limits */

struct nftnl_rule;
struct nftnl_expr;
struct netd_nft_table;

struct netd_nft_set {
	const char *name;
	uint32_t key_type;	/* NETD_NFT_TYPE_*, concatenations shifted */
	uint32_t key_len;
	uint32_t flags;		/* NFT_SET_INTERVAL, NFT_SET_CONCAT, ... */
	uint8_t concat[4];	/* field lengths of a concatenation, 0-terminated */
	bool host_order_key;	/* a lone string key: nft prints it only if told */
	/* the first key of a message, for error messages ("add 10.1.0.2 in set masq4") */
	void (*key_str)(const uint8_t *key, char *out, size_t n);
	/* a map (NFT_SET_MAP in flags): what its elements map to */
	uint32_t data_type, data_len;
};

/* type NULL: a regular chain (no hook), created if missing and otherwise
 * never touched: its rules belong to someone else (the operator's `user`). */
struct netd_nft_chain {
	const char *name, *type;	/* "nat", "filter" */
	int hook, prio;			/* NF_INET_*, NF_BR_*; priority */
	int nrules;			/* fixed rules, in order */
	struct nftnl_rule *(*rule)(const struct netd_nft_table *t, int i);
};

struct netd_nft_table {
	uint16_t family;		/* NFPROTO_INET, NFPROTO_BRIDGE, ... */
	const char *name;
	const struct netd_nft_chain *chains;
	size_t nchains;
	const struct netd_nft_set *sets;
	size_t nsets;
};

/* One set element as read or to be written. */
struct netd_nft_elem {
	const struct netd_nft_set *set;
	uint8_t key[NETD_NFT_KEY_MAX], key_end[NETD_NFT_KEY_MAX];
	uint32_t klen, kelen;		/* kelen 0: no range end */
	uint8_t data[NETD_NFT_KEY_MAX];	/* what a map element maps to */
	uint32_t dlen;			/* 0: not a map element */
	char comment[NETD_NFT_COMMENT_MAX];	/* "" if none */
};

struct netd_nft_elems {
	struct netd_nft_elem *v;
	size_t n, cap;
};

/* Read one element of `set` by exact key (key != NULL: one GET), or every
 * element (dump; retried when interrupted). Appends to out; a missing table
 * or set reads as empty. 0 or <0 with err set. */
int netd_nft_read_elems(struct netd_nft_conn *c, const struct netd_nft_table *t, const struct netd_nft_set *set,
			const uint8_t *key, uint32_t klen, struct netd_nft_elems *out, struct netd_err *err);

/* The elements an element message (an event: NEWSETELEM, DELSETELEM) names
 * in one of t's sets, appended to out. 1 when the message is for t, 0 when
 * it is not (another table or set, another kind of message), -ENOMEM. */
struct nlmsghdr;
int netd_nft_elems_of_msg(const struct nlmsghdr *nlh, const struct netd_nft_table *t, struct netd_nft_elems *out);

/* 1 if every chain of t holds exactly its fixed rules, 0 if not (or the
 * table is missing), <0 error. */
int netd_nft_rules_ok(struct netd_nft_conn *c, const struct netd_nft_table *t, struct netd_err *err);

/* A batch under construction: messages appended, sent once. */
struct netd_nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq_begin, seq;
	char (*what)[96];	/* label per message, for error messages */
	size_t nwhat, capwhat;
	bool deletes;		/* holds a DEL message */
	bool logged;		/* holds elements of the plugins' tables (nft_log.h) */
};

int netd_nft_batch_init(struct netd_nft_batch *b, struct netd_nft_conn *c);
void netd_nft_batch_free(struct netd_nft_batch *b);
/* Sends (no-op when empty) and reads every ack. On a kernel error the
 * message names the failing step, with the kernel's own text. Once
 * committed, element messages for the plugins' tables are recorded for
 * netd (nft_log.h); a failure to record is the call's error. */
int netd_nft_batch_send(struct netd_nft_conn *c, struct netd_nft_batch *b, struct netd_err *err);
/* Table, chains, sets (created without EXCL: no-ops when present; a set's
 * attributes must match, or the kernel refuses) and each chain's rules
 * replaced as a whole, so they exist exactly once. -ENOMEM only. */
int netd_nft_batch_skeleton(struct netd_nft_batch *b, const struct netd_nft_table *t);
/* One NFT_MSG_NEWSETELEM / DELSETELEM message per NETD_NFT_ELEMS_PER_MSG
 * elements of v[0..n), all in the same set (v[0].set). comment (NULL: none)
 * goes on every element. -ENOMEM only. */
int netd_nft_batch_elems(struct netd_nft_batch *b, const struct netd_nft_table *t, uint16_t type,
			 const struct netd_nft_elem *v, size_t n, const char *comment);

/* Every element of `set` removed (a flush, in the batch). -ENOMEM only. */
int netd_nft_batch_flush_set(struct netd_nft_batch *b, const struct netd_nft_table *t,
			     const struct netd_nft_set *set);

/* The whole table t deleted (in the batch); the kernel answers ENOENT if
 * it is absent. -ENOMEM only. */
int netd_nft_batch_del_table(struct netd_nft_batch *b, const struct netd_nft_table *t);

/* Rule building: a rule in chain of t; expressions appended with
 * netd_nft_rule_add (NULL expression: rc becomes -ENOMEM). */
struct nftnl_rule *netd_nft_rule_new(const struct netd_nft_table *t, const char *chain);
void netd_nft_rule_add(struct nftnl_rule *r, struct nftnl_expr *e, int *rc);
/* rc != 0: free r, NULL; else r. */
struct nftnl_rule *netd_nft_rule_done(struct nftnl_rule *r, int rc);


/* For every element of l whose owner tag is `owner`: rc = fn(b, element),
 * stopping at the first error. */
int netd_nft_batch_owned(struct netd_nft_batch *b, const struct netd_nft_elems *l, const char *owner,
			 int (*fn)(struct netd_nft_batch *b, const struct netd_nft_elem *e));
/* Sets "nftables: out of memory"; returns -ENOMEM. */
int netd_nft_oom(struct netd_err *err);

/* Element lists. */
struct netd_nft_elem *netd_nft_elems_push(struct netd_nft_elems *l);
/* The owner tag at the start of an element's comment ("<owner> ..."). */
void netd_nft_elem_owner(const struct netd_nft_elem *e, char out[65]);

#endif
