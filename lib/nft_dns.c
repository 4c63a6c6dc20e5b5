/* nft_dns.c — the DNS redirect table; see netd/nft_dns.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "netd/netns.h"
#include "netd/nft_dns.h"
#include "netd/nft_table.h"

#define DNAT_PRIO (-100)	/* dstnat */
#define RESOLVER_ADDR 0x7f00000b	/* 127.0.0.11 */

/* The rules carry the ports, and the table description's rule builder takes
 * no argument: the ports of the table being written (one thread). */
static uint16_t ports[2];

static struct nftnl_rule *build_rule(const struct netd_nft_table *t, int i);

static const struct netd_nft_chain chains[1] = {
	{ "output", "nat", NF_INET_LOCAL_OUT, DNAT_PRIO, 2, build_rule },
};

static const struct netd_nft_table tbl = { NFPROTO_IPV4, NETD_NFT_DNS_TABLE, chains, 1, NULL, 0 };

/* rule 0: UDP, rule 1: TCP */
static struct nftnl_rule *build_rule(const struct netd_nft_table *t, int i)
{
	struct nftnl_rule *r = netd_nft_rule_new(t, "output");
	uint32_t addr = htonl(RESOLVER_ADDR);
	uint16_t dport = htons(53), to = htons(ports[i]);
	uint8_t proto = i ? IPPROTO_TCP : IPPROTO_UDP;
	int rc = r ? 0 : -ENOMEM;

	netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1), &rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(NFT_REG_1, &addr, 4), &rc);
	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_L4PROTO, NFT_REG_1), &rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(NFT_REG_1, &proto, 1), &rc);
	netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1), &rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(NFT_REG_1, &dport, 2), &rc);
	netd_nft_rule_add(r, netd_nft_e_immediate(NFT_REG_1, &addr, 4), &rc);
	netd_nft_rule_add(r, netd_nft_e_immediate(NFT_REG_2, &to, 2), &rc);
	netd_nft_rule_add(r, netd_nft_e_dnat(NFPROTO_IPV4, NFT_REG_1, NFT_REG_2,
					     NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED), &rc);
	return netd_nft_rule_done(r, rc);
}

struct args {
	struct netd_err *err;
};

static int write_table(void *arg)
{
	struct args *a = arg;
	struct netd_nft_conn c;
	struct netd_nft_batch b;
	int rc;

	if ((rc = netd_nft_conn_open(&c, a->err)) < 0)
		return rc;
	if ((rc = netd_nft_batch_init(&b, &c)) < 0 || (rc = netd_nft_batch_skeleton(&b, &tbl)) < 0)
		rc = netd_nft_oom(a->err);
	else
		rc = netd_nft_batch_send(&c, &b, a->err);
	netd_nft_batch_free(&b);
	netd_nft_conn_close(&c);
	return rc;
}

int netd_nft_dns_redirect(int nsfd, uint16_t udp_port, uint16_t tcp_port, struct netd_err *err)
{
	struct args a = { err };

	ports[0] = udp_port;
	ports[1] = tcp_port;
	return netns_run(nsfd, write_table, &a, err);
}

/* ---- reading the ports back ---------------------------------------------- */

struct seen {
	uint16_t port[2];
	int n;
};

static int port_of_expr(struct nftnl_expr *e, void *data)
{
	uint16_t *port = data;
	uint32_t len = 0;
	const void *v;

	if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "immediate") ||
	    nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) != NFT_REG_2 ||
	    !(v = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len)) || len != 2)
		return 0;
	memcpy(port, v, 2);
	*port = ntohs(*port);
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct seen *s = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return -1;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		if (s->n < 2)
			nftnl_expr_foreach(r, port_of_expr, &s->port[s->n]);
		s->n++;
	}
	nftnl_rule_free(r);
	return 0;
}

/* the chain's hook, as netd_nft_batch_skeleton() makes it */
static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	bool *ok = data;
	struct nftnl_chain *ch = nftnl_chain_alloc();

	if (!ch)
		return -1;
	*ok = nftnl_chain_nlmsg_parse(nlh, ch) == 0 && nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM) &&
	      nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM) == (uint32_t)chains[0].hook &&
	      nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO) == chains[0].prio && nftnl_chain_is_set(ch, NFTNL_CHAIN_TYPE) &&
	      !strcmp(nftnl_chain_get_str(ch, NFTNL_CHAIN_TYPE), chains[0].type) &&
	      nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY) == NF_ACCEPT;
	nftnl_chain_free(ch);
	return 0;
}

static int chain_ok(struct netd_nft_conn *c, struct netd_err *err)
{
	bool ok = false;
	struct netd_nft_wait w = { .cb = chain_cb, .data = &ok };
	struct nftnl_chain *q = nftnl_chain_alloc();
	char buf[512];
	struct nlmsghdr *nlh;
	int rc;

	if (!q)
		return netd_nft_oom(err);
	nftnl_chain_set_str(q, NFTNL_CHAIN_TABLE, tbl.name);
	nftnl_chain_set_str(q, NFTNL_CHAIN_NAME, chains[0].name);
	w.seq_lo = w.seq_last = ++c->seq;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, tbl.family, NLM_F_ACK, w.seq_lo);
	nftnl_chain_nlmsg_build_payload(nlh, q);
	nftnl_chain_free(q);
	if ((rc = netd_nft_conn_ask(c, nlh, &w)) < 0)
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: reading chain %s: %s", chains[0].name,
				    strerror(-rc));
	return !w.error && ok;
}

struct read_args {
	uint16_t *udp_port, *tcp_port;
	struct netd_err *err;
};

static int read_table(void *arg)
{
	struct read_args *a = arg;
	struct seen s = {{0, 0}, 0};
	struct netd_nft_wait w = { .dump = true, .cb = rule_cb, .data = &s };
	struct netd_nft_conn c;
	struct nftnl_rule *q = netd_nft_rule_new(&tbl, "output");
	char buf[512];
	struct nlmsghdr *nlh;
	int rc;

	if (!q)
		return netd_nft_oom(a->err);
	if ((rc = netd_nft_conn_open(&c, a->err)) < 0) {
		nftnl_rule_free(q);
		return rc;
	}
	w.seq_lo = w.seq_last = ++c.seq;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, tbl.family, NLM_F_DUMP | NLM_F_ACK, w.seq_lo);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	nftnl_rule_free(q);
	if ((rc = netd_nft_conn_ask(&c, nlh, &w)) < 0) {
		netd_err_set(a->err, rc, NETD_ERR_KERNEL, "nftables: listing %s: %s", NETD_NFT_DNS_TABLE, strerror(-rc));
	} else if (w.error || w.intr || s.n != 2 || !s.port[0] || !s.port[1]) {
		rc = 0;	/* missing (ENOENT) or not ours as we write it: written anew */
	} else {
		/* the rules those ports make, compared with what is there */
		ports[0] = s.port[0];
		ports[1] = s.port[1];
		if ((rc = netd_nft_rules_ok(&c, &tbl, a->err)) == 1 && (rc = chain_ok(&c, a->err)) == 1) {
			*a->udp_port = s.port[0];
			*a->tcp_port = s.port[1];
		}
	}
	netd_nft_conn_close(&c);
	return rc;
}

int netd_nft_dns_read(int nsfd, uint16_t *udp_port, uint16_t *tcp_port, struct netd_err *err)
{
	struct read_args a = { udp_port, tcp_port, err };

	return netns_run(nsfd, read_table, &a, err);
}

static int remove_table(void *arg)
{
	struct args *a = arg;
	struct netd_nft_conn c;
	struct netd_nft_batch b;
	struct netd_err nerr = {0};
	int rc;

	if ((rc = netd_nft_conn_open(&c, a->err)) < 0)
		return rc;
	if ((rc = netd_nft_batch_init(&b, &c)) < 0 || (rc = netd_nft_batch_del_table(&b, &tbl)) < 0)
		rc = netd_nft_oom(a->err);
	else if ((rc = netd_nft_batch_send(&c, &b, &nerr)) == -ENOENT)
		rc = 0;
	else if (rc < 0)
		*a->err = nerr;
	netd_nft_batch_free(&b);
	netd_nft_conn_close(&c);
	return rc;
}

int netd_nft_dns_remove(int nsfd, struct netd_err *err)
{
	struct args a = { err };

	return netns_run(nsfd, remove_table, &a, err);
}
