/* nft_dns.c — the DNS redirect table; see netd/nft_dns.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

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
	netd_nft_rule_add(r, netd_nft_e_dnat(NFPROTO_IPV4, NFT_REG_1, NFT_REG_2, 0), &rc);
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
