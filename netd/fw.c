/* fw.c — table `inet netd`: published ports and isolation between networks.
 *
 *   set same4 { ipv4_addr . ipv4_addr, interval }   subnet . subnet, per network
 *   set same6 { ipv6_addr . ipv6_addr, interval }
 *   map ports4   { inet_proto . inet_service : ipv4_addr . inet_service }
 *   map ports4ip { ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
 *   map ports6, ports6ip                            the same for IPv6
 *   chain user  (regular)                           the operator's; never touched
 *   chain prerouting { nat, prerouting, dstnat }    and chain output { nat, output, dstnat }:
 *     fib daddr type local dnat to ip daddr . meta l4proto . th dport map @ports4ip
 *     fib daddr type local dnat to meta l4proto . th dport map @ports4   (and for ip6,
 *                                                          not for ip6 daddr ::1)
 *   chain postrouting { nat, postrouting, srcnat }:
 *     ct status dnat ip saddr 127.0.0.0/8 masquerade         the host's 127.0.0.1
 *     ct status dnat ip saddr . ip daddr @same4 masquerade   hairpin in one network
 *     ct status dnat ip6 saddr . ip6 daddr @same6 masquerade
 *   chain forward { filter, forward, 0 }:
 *     jump user
 *     ct state established,related accept
 *     ct status dnat accept                        published ports, from anywhere
 *     ip saddr . ip daddr @same4 accept            one network (seen with br_netfilter)
 *     ip daddr . ip daddr @same4 drop              any other way into a netd subnet
 *     (and for ip6)
 *   chain guard { filter, prerouting, raw }:
 *     iif != lo ip saddr 127.0.0.0/8 drop; iif != lo ip daddr 127.0.0.0/8 drop
 *
 * Why these shapes: "is X in some netd subnet" is the lookup of X . X in the
 * same concatenated interval set that answers "are X and Y in one network",
 * so isolation is one set whose size is the number of subnets, and its
 * per-packet cost does not grow with it. Published ports are two maps per
 * family (wildcard and address-bound), so one mapping more is one element
 * more and the rules never change. Traffic between two containers on one
 * bridge is bridged and never reaches these hooks (unless br_netfilter is
 * loaded, hence the accept of same-network pairs).
 *
 * Publishing on 127.0.0.1 needs the kernel to route 127/8 sources out of a
 * bridge: route_localnet is set on the bridge of a container that publishes
 * IPv4 ports, and chain guard drops 127/8 arriving on any other interface.
 * [::1] cannot be translated by the kernel at all (no route_localnet for
 * IPv6): refused with a message.
 *
 * Why one file, over 800 lines: it is the life of one table over one
 * private struct netd_fw — its description (sets and rules, at the top), the
 * elements that fill it (whose byte layouts must match those set keys, so
 * they are read together), the batches that change it and the nftables
 * events that heal it. The seam, should it grow: the description, which
 * uses only the table and not netd_fw, as a table module of its own like
 * lib/nft_masq.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "fw.h"
#include "icc.h"
#include "pub.h"
#include "netd/nft_conn.h"
#include "netd/nft_table.h"

#define HEAL_DELAY_MS 50
#define TYPE_INET_PROTO 12
#define TYPE_INET_SERVICE 13
#define T(a, b) (((a) << NETD_NFT_TYPE_BITS) | (b))
#define R(i) (NFT_REG32_00 + (i))

enum { S_SAME4, S_SAME6, S_PORTS4, S_PORTS4IP, S_PORTS6, S_PORTS6IP, S_N };

static const struct netd_nft_set sets[S_N] = {
	[S_SAME4] = {.name = "same4", .key_type = T(NETD_NFT_TYPE_IPADDR, NETD_NFT_TYPE_IPADDR), .key_len = 8,
		     .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT, .concat = {4, 4}},
	[S_SAME6] = {.name = "same6", .key_type = T(NETD_NFT_TYPE_IP6ADDR, NETD_NFT_TYPE_IP6ADDR), .key_len = 32,
		     .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT, .concat = {16, 16}},
	[S_PORTS4] = {.name = "ports4", .key_type = T(TYPE_INET_PROTO, TYPE_INET_SERVICE), .key_len = 8,
		      .flags = NFT_SET_MAP,
		      .data_type = T(NETD_NFT_TYPE_IPADDR, TYPE_INET_SERVICE), .data_len = 8},
	[S_PORTS4IP] = {.name = "ports4ip", .key_type = T(T(NETD_NFT_TYPE_IPADDR, TYPE_INET_PROTO), TYPE_INET_SERVICE),
			.key_len = 12, .flags = NFT_SET_MAP,
			.data_type = T(NETD_NFT_TYPE_IPADDR, TYPE_INET_SERVICE), .data_len = 8},
	[S_PORTS6] = {.name = "ports6", .key_type = T(TYPE_INET_PROTO, TYPE_INET_SERVICE), .key_len = 8,
		      .flags = NFT_SET_MAP,
		      .data_type = T(NETD_NFT_TYPE_IP6ADDR, TYPE_INET_SERVICE), .data_len = 20},
	[S_PORTS6IP] = {.name = "ports6ip", .key_type = T(T(NETD_NFT_TYPE_IP6ADDR, TYPE_INET_PROTO), TYPE_INET_SERVICE),
			.key_len = 24, .flags = NFT_SET_MAP,
			.data_type = T(NETD_NFT_TYPE_IP6ADDR, TYPE_INET_SERVICE), .data_len = 20},
};

/* ---- rules --------------------------------------------------------------- */

/* meta nfproto == af */
static void r_nfproto(struct nftnl_rule *r, int v6, int *rc)
{
	uint8_t p = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_NFPROTO, R(0)), rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(R(0), &p, 1), rc);
}

/* the address field (0 saddr, 1 daddr) of the network header into reg */
static void r_addr(struct nftnl_rule *r, int v6, int daddr, uint32_t reg, int *rc)
{
	uint32_t off = v6 ? (daddr ? 24 : 8) : (daddr ? 16 : 12);

	netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, off, v6 ? 16 : 4, reg), rc);
}

/* ip saddr/daddr in 127.0.0.0/8 */
static void r_loopback4(struct nftnl_rule *r, int daddr, int *rc)
{
	static const uint8_t mask[4] = {255}, net[4] = {127};

	r_addr(r, 0, daddr, R(0), rc);
	netd_nft_rule_add(r, netd_nft_e_mask(R(0), mask, 4), rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(R(0), net, 4), rc);
}

static void r_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t bits, int *rc)
{
	static const uint32_t zero;

	netd_nft_rule_add(r, netd_nft_e_ct(key, R(0)), rc);
	netd_nft_rule_add(r, netd_nft_e_mask(R(0), &bits, 4), rc);
	netd_nft_rule_add(r, netd_nft_e_cmp_op(R(0), NFT_CMP_NEQ, &zero, 4), rc);
}

/* the pair (saddr . daddr) or (daddr . daddr) in same4/same6 */
static void r_same(struct nftnl_rule *r, int v6, int src_is_daddr, int *rc)
{
	r_addr(r, v6, src_is_daddr, R(0), rc);
	r_addr(r, v6, 1, v6 ? R(4) : R(1), rc);
	netd_nft_rule_add(r, netd_nft_e_lookup(R(0), sets[v6 ? S_SAME6 : S_SAME4].name, 0), rc);
}

/* prerouting and output: rule i = v6 * 2 + wildcard */
static struct nftnl_rule *rule_dnat(const struct netd_nft_table *t, const char *chain, int i)
{
	struct nftnl_rule *r = netd_nft_rule_new(t, chain);
	int rc = r ? 0 : -ENOMEM, v6 = i / 2, any = i % 2;
	static const uint32_t local = RTN_LOCAL;
	uint32_t k = 0;

	if (!r)
		return NULL;
	r_nfproto(r, v6, &rc);
	/* [::1] cannot be translated (docs/netd.md): left alone, a client that
	 * tries localhost's ::1 first is refused at once and goes on to
	 * 127.0.0.1, instead of waiting for a packet the kernel drops */
	if (v6 && any) {
		r_addr(r, 1, 1, R(0), &rc);
		netd_nft_rule_add(r, netd_nft_e_cmp_op(R(0), NFT_CMP_NEQ, &in6addr_loopback, 16), &rc);
	}
	netd_nft_rule_add(r, netd_nft_e_fib_daddr_type(R(0)), &rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(R(0), &local, 4), &rc);
	if (!any) {
		r_addr(r, v6, 1, R(0), &rc);
		k = v6 ? 4 : 1;
	}
	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_L4PROTO, R(k)), &rc);
	netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(k + 1)), &rc);
	netd_nft_rule_add(r, netd_nft_e_map(R(0), sets[v6 ? (any ? S_PORTS6 : S_PORTS6IP) : (any ? S_PORTS4 : S_PORTS4IP)].name,
				   R(0)), &rc);
	netd_nft_rule_add(r, netd_nft_e_dnat(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, R(0), v6 ? R(4) : R(1),
					     NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED), &rc);
	return netd_nft_rule_done(r, rc);
}

static struct nftnl_rule *rule_prerouting(const struct netd_nft_table *t, int i)
{
	return rule_dnat(t, "prerouting", i);
}

static struct nftnl_rule *rule_output(const struct netd_nft_table *t, int i)
{
	return rule_dnat(t, "output", i);
}

static struct nftnl_rule *rule_postrouting(const struct netd_nft_table *t, int i)
{
	struct nftnl_rule *r = netd_nft_rule_new(t, "postrouting");
	int rc = r ? 0 : -ENOMEM;

	if (!r)
		return NULL;
	r_nfproto(r, i == 2, &rc);
	r_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT, &rc);
	if (i == 0)
		r_loopback4(r, 0, &rc);
	else
		r_same(r, i == 2, 0, &rc);
	netd_nft_rule_add(r, nftnl_expr_alloc("masq"), &rc);
	return netd_nft_rule_done(r, rc);
}

static struct nftnl_rule *rule_forward(const struct netd_nft_table *t, int i)
{
	struct nftnl_rule *r = netd_nft_rule_new(t, "forward");
	int rc = r ? 0 : -ENOMEM;

	if (!r)
		return NULL;
	switch (i) {
	case 0:
		netd_nft_rule_add(r, netd_nft_e_jump("user"), &rc);
		break;
	case 1:
		r_ct_bits(r, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), &rc);
		netd_nft_rule_add(r, netd_nft_e_verdict(NF_ACCEPT), &rc);
		break;
	case 2:
		r_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT, &rc);
		netd_nft_rule_add(r, netd_nft_e_verdict(NF_ACCEPT), &rc);
		break;
	default: /* 3, 4: ip; 5, 6: ip6; odd accepts one network, even drops the rest */
		r_nfproto(r, i >= 5, &rc);
		r_same(r, i >= 5, !(i % 2), &rc);
		netd_nft_rule_add(r, netd_nft_e_verdict(i % 2 ? NF_ACCEPT : NF_DROP), &rc);
		break;
	}
	return netd_nft_rule_done(r, rc);
}

static struct nftnl_rule *rule_guard(const struct netd_nft_table *t, int i)
{
	struct nftnl_rule *r = netd_nft_rule_new(t, "guard");
	int rc = r ? 0 : -ENOMEM;
	static const uint32_t lo = 1;	/* the loopback device is ifindex 1 in every netns */

	if (!r)
		return NULL;
	r_nfproto(r, 0, &rc);
	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_IIF, R(0)), &rc);
	netd_nft_rule_add(r, netd_nft_e_cmp_op(R(0), NFT_CMP_NEQ, &lo, 4), &rc);
	r_loopback4(r, i, &rc);
	netd_nft_rule_add(r, netd_nft_e_verdict(NF_DROP), &rc);
	return netd_nft_rule_done(r, rc);
}

static const struct netd_nft_chain chains[] = {
	{"user", NULL, 0, 0, 0, NULL},
	{"guard", "filter", NF_INET_PRE_ROUTING, -300, 2, rule_guard},
	{"prerouting", "nat", NF_INET_PRE_ROUTING, -100, 4, rule_prerouting},
	{"output", "nat", NF_INET_LOCAL_OUT, -100, 4, rule_output},
	{"postrouting", "nat", NF_INET_POST_ROUTING, 100, 3, rule_postrouting},
	{"forward", "filter", NF_INET_FORWARD, 0, 7, rule_forward},
};

static const struct netd_nft_table table_tmpl = {NFPROTO_INET, "netd", chains,
						 sizeof(chains) / sizeof(chains[0]), sets, S_N};

/* ---- state --------------------------------------------------------------- */

struct subnet {
	struct netd_prefix net;
	size_t refs;
};

struct netd_fw {
	struct netd_nft_table t;	/* table_tmpl under the configured name */
	char name[33];
	uint64_t heal_times[4];		/* the last heals: a fight with someone is slowed down */
	uint64_t heal_at_min;		/* no heal before */
	struct netd_pub *pub;
	struct subnet *subs;
	size_t n_subs, cap_subs;
	struct netd_nft_conn conn;
	bool conn_open;
	struct mnl_socket *ev;
	char *evbuf;
	uint64_t heal_at;		/* CLOCK_MONOTONIC ms; 0: nothing due */
	uint64_t policy_at;		/* someone changed a chain: look at forward policies then */
	bool resync;			/* memory may be ahead of the state: reload it first */
	unsigned long rebuilds;
	char warning[512];
	void (*warn)(const char *msg);
	const struct netd_state *state; /* for rebuilds: the daemon's, outlives us */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* After a failure that may have left memory ahead of the kernel: rebuild
 * both from the daemon's state at the next tick. */
static void resync_soon(struct netd_fw *fw)
{
	fw->heal_at = now_ms();
	fw->resync = true;
}

static void fw_warn(struct netd_fw *fw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fw_warn(struct netd_fw *fw, const char *fmt, ...)
{
	char msg[NETD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fw->warn)
		fw->warn(msg);
}

/* An endpoint's record, as the firewall needs it. */
struct pep {
	struct netd_pub_ep e;
	struct netd_prefix subs[64];
	size_t n_subs;
	struct netd_portmap *maps;
};

static void pep_free(struct pep *p)
{
	free(p->maps);
	p->maps = NULL;
}

/* Parse what state.c already validated: ips and portMappings. */
static int pep_parse(const struct netd_ep *ep, struct pep *p, struct netd_err *err)
{
	json_t *j = json_loads(ep->json, 0, NULL), *a, *v;
	size_t i;

	memset(p, 0, sizeof(*p));
	if (!j)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "endpoint %s: stored record does not parse", ep->id);
	p->e.id = ep->id;
	p->e.container_id = ep->container_id;
	p->e.name = ep->name;
	json_array_foreach(json_object_get(j, "ips"), i, v) {
		struct netd_prefix pr;

		if (netd_prefix_parse(json_string_value(v), &pr) < 0)
			continue;
		if (pr.addr.family == AF_INET && !p->e.v4.family)
			p->e.v4 = pr.addr;
		if (pr.addr.family == AF_INET6 && !p->e.v6.family)
			p->e.v6 = pr.addr;
		if (p->n_subs < 64)
			p->subs[p->n_subs++] = netd_prefix_network(&pr);
	}
	a = json_object_get(j, "portMappings");
	if (json_array_size(a) && !(p->maps = calloc(json_array_size(a), sizeof(*p->maps)))) {
		json_decref(j);
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	}
	json_array_foreach(a, i, v) {
		struct netd_portmap *m = &p->maps[p->e.n_maps++];
		const char *proto = json_string_value(json_object_get(v, "protocol"));
		const char *ip = json_string_value(json_object_get(v, "hostIP"));

		m->host_port = (uint16_t)json_integer_value(json_object_get(v, "hostPort"));
		m->container_port = (uint16_t)json_integer_value(json_object_get(v, "containerPort"));
		if (netd_proto_parse(proto ? proto : "tcp", &m->proto) < 0)
			m->proto = IPPROTO_TCP;
		if (ip && *ip)
			netd_addr_parse(ip, &m->host_ip);
	}
	p->e.maps = p->maps;
	json_decref(j);
	return 0;
}

/* ---- elements ------------------------------------------------------------ */

static void put_port(uint8_t *p, uint16_t port)
{
	p[0] = (uint8_t)(port >> 8);
	p[1] = (uint8_t)port;
}

static void elem_of_pub(const struct netd_pub_elem *pe, struct netd_nft_elem *x)
{
	bool v6 = pe->af == AF_INET6, any = !pe->host_ip.family;
	size_t alen = v6 ? 16 : 4, k = 0;

	memset(x, 0, sizeof(*x));
	x->set = &sets[v6 ? (any ? S_PORTS6 : S_PORTS6IP) : (any ? S_PORTS4 : S_PORTS4IP)];
	if (!any) {
		memcpy(x->key, pe->host_ip.b, alen);
		k = alen;
	}
	x->key[k] = pe->proto;
	put_port(x->key + k + 4, pe->host_port);
	x->klen = (uint32_t)(k + 8);
	memcpy(x->data, pe->to.b, alen);
	put_port(x->data + alen, pe->to_port);
	x->dlen = (uint32_t)(alen + 4);
}

static void elem_of_subnet(const struct netd_prefix *p, struct netd_nft_elem *x)
{
	struct netd_addr first = netd_prefix_first(p), last = netd_prefix_last(p);
	size_t alen = netd_addr_len(&p->addr);

	memset(x, 0, sizeof(*x));
	x->set = &sets[p->addr.family == AF_INET6 ? S_SAME6 : S_SAME4];
	memcpy(x->key, first.b, alen);
	memcpy(x->key + alen, first.b, alen);
	memcpy(x->key_end, last.b, alen);
	memcpy(x->key_end + alen, last.b, alen);
	x->klen = x->kelen = (uint32_t)(2 * alen);
}

/* Elements grouped per set, as one batch wants them. */
struct elist {
	struct netd_nft_elems by_set[S_N];
};

static int elist_add(struct elist *l, const struct netd_nft_elem *x)
{
	struct netd_nft_elem *e = netd_nft_elems_push(&l->by_set[x->set - sets]);

	if (!e)
		return -ENOMEM;
	*e = *x;
	return 0;
}

static void elist_free(struct elist *l)
{
	for (size_t i = 0; i < S_N; i++)
		free(l->by_set[i].v);
	memset(l, 0, sizeof(*l));
}

static int batch_elist(struct netd_nft_batch *b, const struct netd_nft_table *t, uint16_t type,
		       struct elist *l)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < S_N; i++)
		if (l->by_set[i].n)
			rc = netd_nft_batch_elems(b, t, type, l->by_set[i].v, l->by_set[i].n, NULL);
	return rc;
}

/* ---- subnets (isolation) ------------------------------------------------- */

static struct subnet *sub_find(struct netd_fw *fw, const struct netd_prefix *p)
{
	for (size_t i = 0; i < fw->n_subs; i++)
		if (fw->subs[i].net.len == p->len && netd_addr_eq(&fw->subs[i].net.addr, &p->addr))
			return &fw->subs[i];
	return NULL;
}

/* refs += delta for each subnet; the ones that appear or disappear go to l. */
static int subs_apply(struct netd_fw *fw, const struct pep *p, int delta, struct elist *l)
{
	struct netd_nft_elem x;

	for (size_t i = 0; i < p->n_subs; i++) {
		struct subnet *s = sub_find(fw, &p->subs[i]);

		if (delta > 0) {
			if (s) {
				s->refs++;
				continue;
			}
			if (fw->n_subs == fw->cap_subs) {
				size_t cap = fw->cap_subs ? fw->cap_subs * 2 : 16;
				struct subnet *v = realloc(fw->subs, cap * sizeof(*v));

				if (!v)
					return -ENOMEM;
				fw->subs = v;
				fw->cap_subs = cap;
			}
			fw->subs[fw->n_subs++] = (struct subnet){p->subs[i], 1};
		} else {
			if (!s || --s->refs)
				continue;
			*s = fw->subs[--fw->n_subs];
		}
		elem_of_subnet(&p->subs[i], &x);
		if (l && elist_add(l, &x) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- route_localnet ------------------------------------------------------ */

/* The host interface of the IPv4 route to addr's subnet (from
 * /proc/net/route: little to parse, no netlink socket to keep). */
static bool route_dev(const struct netd_addr *addr, char *dev, size_t size)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256], ifn[32];
	unsigned dst, gw, flags, refcnt, use, metric, mask;
	unsigned best = 0;
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31s %x %x %x %u %u %u %x", ifn, &dst, &gw, &flags, &refcnt, &use, &metric,
			   &mask) != 8 || gw || !mask)
			continue;
		/* both in the kernel's byte order, as the file prints them */
		if ((addr->v4.s_addr & mask) == dst && (!found || __builtin_popcount(mask) > (int)best)) {
			snprintf(dev, size, "%s", ifn);
			best = (unsigned)__builtin_popcount(mask);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void route_localnet(struct netd_fw *fw, const struct pep *p)
{
	char dev[32], path[128];
	bool v4 = false;
	int fd;

	for (size_t i = 0; i < p->e.n_maps && !v4; i++)
		v4 = netd_portmap_has_family(&p->maps[i], AF_INET);
	if (!v4 || !p->e.v4.family || !route_dev(&p->e.v4, dev, sizeof(dev)) || strchr(dev, '/'))
		return;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1)
		fw_warn(fw, "%s: cannot set route_localnet (%s): ports published on 127.0.0.1 will not answer",
			dev, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* ---- host addresses ------------------------------------------------------ */

/* Is a an address of this host? (bind succeeds only for local addresses) */
static bool host_has(const struct netd_addr *a)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return true;	/* cannot tell: let the kernel decide later */
	if (a->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_addr = a->v4;
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_addr = a->v6;
		len = sizeof(*s);
	}
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0 || errno != EADDRNOTAVAIL;
	close(fd);
	return ok;
}

static int check_host_ips(const struct pep *p, struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN];

	for (size_t i = 0; i < p->e.n_maps; i++) {
		const struct netd_addr *ip = &p->maps[i].host_ip;

		if (!ip->family || netd_addr_is_zero(ip))
			continue;
		if (i && netd_addr_eq(ip, &p->maps[i - 1].host_ip))
			continue;
		if (ip->family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&ip->v6))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "portMappings[%zu]: publishing on ::1 is not supported (the kernel "
					    "cannot translate IPv6 loopback traffic); use 127.0.0.1 or a host address",
					    i);
		/* IPv4 traffic never shows up in netfilter with a mapped
		 * address: such an element would match nothing */
		if (ip->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&ip->v6)) {
			struct netd_addr v4 = {.family = AF_INET};
			char b[NETD_ADDR_STRLEN];

			memcpy(&v4.v4, &ip->v6.s6_addr[12], 4);
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "portMappings[%zu]: hostIP %s is an IPv4-mapped IPv6 address: publish "
					    "on %s itself", i, netd_addr_str(ip, a), netd_addr_str(&v4, b));
		}
		/* a DNAT'd packet from a link-local peer would have to be
		 * forwarded with that source, which the kernel refuses; and bind()
		 * cannot tell us whether an interface holds it (no scope) */
		if (ip->family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&ip->v6))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "portMappings[%zu]: publishing on link-local %s is not supported (the "
					    "kernel does not forward packets with a link-local source); use a global "
					    "or unique-local address of this host", i, netd_addr_str(ip, a));
		if (!host_has(ip))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "portMappings[%zu]: hostIP %s is not an address of this host", i,
					    netd_addr_str(ip, a));
	}
	return 0;
}

/* ---- batches ------------------------------------------------------------- */

/* The kernel drops the events of our own transactions before they reach
 * the event socket: a socket filter on the sending port id. Why: a rebuild
 * with 10,000 mappings is 20,000 element events (the flush, the refill),
 * more than the socket holds; an overflow (ENOBUFS) must count as a
 * possible deletion by someone else, so each rebuild caused the next, once
 * a second for ever, and whoever dumped a map across one of those commits
 * saw part of it. The kernel packs the events of one transaction into
 * messages of that transaction only, so the first header's port id speaks
 * for the whole message. If the filter cannot be set, foreign_deletion
 * still skips our events; only an overflow heals needlessly. */
static void events_ignore(struct netd_fw *fw, uint32_t portid)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
		/* a word loaded by BPF is big-endian: compare with ours as such */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(portid), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};

	if (setsockopt(mnl_socket_get_fd(fw->ev), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		fw_warn(fw, "table inet %s: nftables events: cannot filter out our own (%s): a big change of "
			"ours may cause a needless rebuild", fw->name, strerror(errno));
}

static int conn_ensure(struct netd_fw *fw, struct netd_err *err)
{
	int rc;

	if (fw->conn_open)
		return 0;
	if ((rc = netd_nft_conn_open(&fw->conn, err)) < 0)
		return rc;
	fw->conn_open = true;
	events_ignore(fw, fw->conn.portid);
	return 0;
}

static void conn_drop(struct netd_fw *fw)
{
	if (fw->conn_open)
		netd_nft_conn_close(&fw->conn);
	fw->conn_open = false;
}

/* del, then add, in one batch; with icc, the bridge table's sets refilled
 * for the state once put is registered / gone removed (icc.h) */
static int send_change(struct netd_fw *fw, struct elist *del, struct elist *add, bool icc,
		       const struct netd_ep *put, const char *gone, struct netd_err *err)
{
	struct netd_nft_batch b;
	int rc;

	if ((rc = conn_ensure(fw, err)) < 0)
		return rc;
	if (netd_nft_batch_init(&b, &fw->conn) < 0)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	if ((rc = batch_elist(&b, &fw->t, NFT_MSG_DELSETELEM, del)) < 0 ||
	    (rc = batch_elist(&b, &fw->t, NFT_MSG_NEWSETELEM, add)) < 0 ||
	    (icc && (rc = netd_icc_batch(&b, fw->name, fw->state, put, gone)) < 0))
		netd_err_set(err, rc, NETD_ERR_INTERNAL, "out of memory");
	else
		rc = netd_nft_batch_send(&fw->conn, &b, err);
	netd_nft_batch_free(&b);
	if (rc == -ETIMEDOUT || rc == -EBADF)
		conn_drop(fw);
	return rc;
}

struct collect {
	struct elist *l;
	int rc;
};

static void pub_elems(const struct netd_pub_elem *pe, void *arg)
{
	struct collect *c = arg;
	struct netd_nft_elem x;

	elem_of_pub(pe, &x);
	if (elist_add(c->l, &x) < 0)
		c->rc = -ENOMEM;
}

/* The whole table from memory, one batch: skeleton (the user chain made if
 * missing and left alone), every set emptied and refilled. */
static int rebuild(struct netd_fw *fw, struct netd_err *err)
{
	struct netd_nft_batch b;
	struct elist all = {0};
	struct netd_nft_elem x;
	struct collect arg = {&all, 0};
	int rc;

	for (size_t i = 0; i < fw->n_subs; i++) {
		elem_of_subnet(&fw->subs[i].net, &x);
		if (elist_add(&all, &x) < 0)
			arg.rc = -ENOMEM;
	}
	netd_pub_each(fw->pub, pub_elems, &arg);
	if (arg.rc < 0) {
		elist_free(&all);
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	}
	if ((rc = conn_ensure(fw, err)) < 0) {
		elist_free(&all);
		return rc;
	}
	rc = netd_nft_batch_init(&b, &fw->conn);
	if (!rc)
		rc = netd_nft_batch_skeleton(&b, &fw->t);
	for (size_t i = 0; !rc && i < S_N; i++)
		rc = netd_nft_batch_flush_set(&b, &fw->t, &sets[i]);
	if (!rc)
		rc = batch_elist(&b, &fw->t, NFT_MSG_NEWSETELEM, &all);
	if (!rc)
		rc = netd_icc_batch(&b, fw->name, fw->state, NULL, NULL);
	if (rc < 0)
		netd_err_set(err, rc, NETD_ERR_INTERNAL, "out of memory");
	else
		rc = netd_nft_batch_send(&fw->conn, &b, err);
	netd_nft_batch_free(&b);
	elist_free(&all);
	if (rc < 0) {
		conn_drop(fw);
		return rc;
	}
	fw->rebuilds++;
	return 0;
}

/* ---- forward policy check ------------------------------------------------ */

struct fwd_check {
	char *out;
	size_t size;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fwd_check *c = data;
	struct nftnl_chain *ch = nftnl_chain_alloc();
	uint32_t fam;

	if (!ch)
		return -1;
	if (nftnl_chain_nlmsg_parse(nlh, ch) == 0 && nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM) &&
	    nftnl_chain_is_set(ch, NFTNL_CHAIN_POLICY) &&
	    nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM) == NF_INET_FORWARD &&
	    nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY) == NF_DROP && !c->out[0]) {
		fam = nftnl_chain_get_u32(ch, NFTNL_CHAIN_FAMILY);
		if (fam == NFPROTO_IPV4 || fam == NFPROTO_IPV6 || fam == NFPROTO_INET)
			snprintf(c->out, c->size,
				 "chain %s of table %s %s has policy drop on the forward hook: it drops "
				 "container traffic netd accepts (published ports, outbound). Accept it there, "
				 "e.g. iptables -I FORWARD -o BRIDGE -j ACCEPT; iptables -I FORWARD -i BRIDGE -j ACCEPT "
				 "(docs/netd.md, \"Coexistence\")",
				 nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME),
				 fam == NFPROTO_IPV4 ? "ip" : fam == NFPROTO_IPV6 ? "ip6" : "inet",
				 nftnl_chain_get_str(ch, NFTNL_CHAIN_TABLE));
	}
	nftnl_chain_free(ch);
	return 0;
}

static void check_forward_policy(struct netd_fw *fw)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], old[sizeof(fw->warning)];
	struct fwd_check c = {fw->warning, sizeof(fw->warning)};
	struct netd_nft_wait w = {0};
	struct nlmsghdr *nlh;

	if (conn_ensure(fw, NULL) < 0)
		return;
	snprintf(old, sizeof(old), "%s", fw->warning);
	fw->warning[0] = 0;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, ++fw->conn.seq);
	w.seq_lo = w.seq_last = nlh->nlmsg_seq;
	w.dump = true;
	w.cb = chain_cb;
	w.data = &c;
	if (netd_nft_conn_ask(&fw->conn, nlh, &w) < 0)
		conn_drop(fw);
	if (fw->warning[0] && strcmp(old, fw->warning))
		fw_warn(fw, "%s", fw->warning);
	else if (old[0] && !fw->warning[0])
		fw_warn(fw, "no forward-hook chain has policy drop any more");
}

/* A chain or table of another program came or went (Docker starting after
 * netd sets FORWARD's policy then; `iptables -P` sends a new chain too): the
 * forward policies are looked at again, so status says what holds now. */
static bool foreign_chain_change(const struct netd_fw *fw, const struct nlmsghdr *nlh)
{
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return false;
	if (type != NFT_MSG_NEWCHAIN && type != NFT_MSG_DELCHAIN && type != NFT_MSG_DELTABLE)
		return false;
	return !(fw->conn_open && nlh->nlmsg_pid == fw->conn.portid);
}

/* ---- events -------------------------------------------------------------- */

static int open_events(struct netd_fw *fw, struct netd_err *err)
{
	int rc;

	fw->ev = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	fw->evbuf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!fw->ev || !fw->evbuf || mnl_socket_bind(fw->ev, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		return netd_err_set(err, rc ? rc : -ENOMEM, NETD_ERR_INTERNAL, "nftables events: %s", strerror(rc ? -rc : ENOMEM));
	}
	return 0;
}

/* Someone else changed our table? Only deletions matter: new rules in the
 * user chain are the operator's, and nobody else adds to our chains. */
static bool foreign_deletion(const struct netd_fw *fw, const struct nlmsghdr *nlh)
{
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return false;
	if (type != NFT_MSG_DELTABLE && type != NFT_MSG_DELCHAIN && type != NFT_MSG_DELRULE &&
	    type != NFT_MSG_DELSET && type != NFT_MSG_DELSETELEM)
		return false;
	if (fw->conn_open && nlh->nlmsg_pid == fw->conn.portid)
		return false;
	if (g->nfgen_family != NFPROTO_INET && g->nfgen_family != NFPROTO_BRIDGE &&
	    g->nfgen_family != NFPROTO_UNSPEC)
		return false;
	/* the first attribute of every one of these is the table's name */
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(a) != 1)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return false;
		if (strcmp(mnl_attr_get_str(a), fw->name))
			return false;
		/* deleting rules of the user chain is the operator's business */
		if (type == NFT_MSG_DELRULE) {
			const struct nlattr *b;

			mnl_attr_for_each(b, nlh, sizeof(*g))
				if (mnl_attr_get_type(b) == NFTA_RULE_CHAIN &&
				    mnl_attr_validate(b, MNL_TYPE_NUL_STRING) == 0 &&
				    !strcmp(mnl_attr_get_str(b), "user"))
					return false;
		}
		return true;
	}
	return false;
}

static uint64_t heal_time(const struct netd_fw *fw)
{
	uint64_t t = now_ms() + HEAL_DELAY_MS;

	return t < fw->heal_at_min ? fw->heal_at_min : t;
}

void netd_fw_event(struct netd_fw *fw)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(fw->ev, fw->evbuf, MNL_SOCKET_BUFFER_SIZE);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0) {
			if (errno == ENOBUFS) { /* events were lost: look anyway */
				fw->heal_at = heal_time(fw);
				fw->policy_at = now_ms() + HEAL_DELAY_MS;
			}
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)fw->evbuf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (!fw->heal_at && foreign_deletion(fw, nlh))
				fw->heal_at = heal_time(fw);
			if (!fw->policy_at && foreign_chain_change(fw, nlh))
				fw->policy_at = now_ms() + HEAL_DELAY_MS;
		}
	}
}

int netd_fw_fd(const struct netd_fw *fw)
{
	return mnl_socket_get_fd(fw->ev);
}

int netd_fw_timeout_ms(const struct netd_fw *fw)
{
	uint64_t now = now_ms(), at = fw->heal_at;

	if (!at || (fw->policy_at && fw->policy_at < at))
		at = fw->policy_at;
	if (!at)
		return -1;
	return at <= now ? 0 : (int)(at - now);
}

void netd_fw_tick(struct netd_fw *fw)
{
	struct netd_err err = {0};

	if (fw->policy_at && fw->policy_at <= now_ms()) {
		fw->policy_at = 0;
		check_forward_policy(fw);
	}
	if (!fw->heal_at || fw->heal_at > now_ms())
		return;
	fw->heal_at = 0;
	if (fw->resync) {
		fw->resync = false;
		if (netd_fw_sync(fw, fw->state, &err) < 0) {
			fw_warn(fw, "table inet %s: rebuild failed, retrying in 1 s: %s", fw->name, err.msg);
			resync_soon(fw);
			fw->heal_at += 1000;
		}
		return;
	}
	if (rebuild(fw, &err) < 0) {
		fw_warn(fw, "table inet %s: rebuild failed, retrying in 1 s: %s", fw->name, err.msg);
		fw->heal_at = now_ms() + 1000;
		return;
	}
	/* four heals within 2 s: someone keeps changing the table (a second
	 * netd with the same nft_table?): from now on at most one a second */
	memmove(fw->heal_times, fw->heal_times + 1, sizeof(fw->heal_times) - sizeof(fw->heal_times[0]));
	fw->heal_times[3] = now_ms();
	if (fw->heal_times[0] && fw->heal_times[3] - fw->heal_times[0] < 2000)
		fw->heal_at_min = fw->heal_times[3] + 1000;
	fw_warn(fw, "table inet %s was changed by someone else: rebuilt (%zu published ports, %zu subnets)",
		fw->name, netd_pub_count(fw->pub), fw->n_subs);
	check_forward_policy(fw);
}

/* ---- the daemon's calls -------------------------------------------------- */

/* Memory from state, registration order; conflicts (which the API refused
 * when they were registered, but a host address may have gone) are warned
 * about and skipped. */
static int load(struct netd_fw *fw, const struct netd_state *s)
{
	for (const struct netd_ep *ep = s->first; ep; ep = ep->next) {
		struct netd_pub_delta d = {0};
		struct netd_err err = {0};
		struct pep p;

		if (pep_parse(ep, &p, &err) < 0) {
			fw_warn(fw, "%s", err.msg);
			continue;
		}
		if (subs_apply(fw, &p, +1, NULL) < 0) {
			pep_free(&p);
			return -ENOMEM;
		}
		if (netd_pub_check(fw->pub, &p.e, &err) < 0) {
			fw_warn(fw, "endpoint %s: its published ports are not restored: %s", ep->id, err.msg);
		} else if (netd_pub_put(fw->pub, &p.e, &d) < 0) {
			netd_pub_delta_free(&d);
			pep_free(&p);
			return -ENOMEM;
		}
		if (p.e.n_maps)
			route_localnet(fw, &p);
		netd_pub_delta_free(&d);
		pep_free(&p);
	}
	return 0;
}

static void reset(struct netd_fw *fw)
{
	netd_pub_free(fw->pub);
	fw->pub = netd_pub_new();
	fw->n_subs = 0;
}

int netd_fw_sync(struct netd_fw *fw, const struct netd_state *s, struct netd_err *err)
{
	reset(fw);
	if (!fw->pub || load(fw, s) < 0)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	return rebuild(fw, err);
}

int netd_fw_open(struct netd_fw **out, const char *name, const struct netd_state *s,
		 void (*warn)(const char *msg), struct netd_err *err)
{
	struct netd_fw *fw = calloc(1, sizeof(*fw));
	int rc;

	if (!fw)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	snprintf(fw->name, sizeof(fw->name), "%s", name);
	fw->t = table_tmpl;
	fw->t.name = fw->name;
	fw->warn = warn;
	fw->state = s;
	if ((rc = open_events(fw, err)) < 0 || (rc = netd_fw_sync(fw, s, err)) < 0) {
		netd_fw_free(fw);
		return rc;
	}
	check_forward_policy(fw);
	*out = fw;
	return 0;
}

void netd_fw_free(struct netd_fw *fw)
{
	if (!fw)
		return;
	conn_drop(fw);
	if (fw->ev)
		mnl_socket_close(fw->ev);
	free(fw->evbuf);
	netd_pub_free(fw->pub);
	free(fw->subs);
	free(fw);
}

static int delta_elists(const struct netd_pub_delta *d, struct elist *del, struct elist *add)
{
	struct netd_nft_elem x;

	for (size_t i = 0; i < d->n_del; i++) {
		elem_of_pub(&d->del[i], &x);
		if (elist_add(del, &x) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_add; i++) {
		elem_of_pub(&d->add[i], &x);
		if (elist_add(add, &x) < 0)
			return -ENOMEM;
	}
	return 0;
}

int netd_fw_put(struct netd_fw *fw, const struct netd_ep *ep, const struct netd_ep *old, struct netd_err *err)
{
	struct pep p, po = {0};
	struct netd_pub_delta d = {0};
	struct elist del = {0}, add = {0};
	int rc;

	if ((rc = pep_parse(ep, &p, err)) < 0)
		return rc;
	if ((rc = check_host_ips(&p, err)) < 0 || (rc = netd_pub_check(fw->pub, &p.e, err)) < 0)
		goto out;
	if (old && (rc = pep_parse(old, &po, err)) < 0)
		goto out;
	/* isolation: the new subnets counted before the old are released,
	 * so an unchanged subnet is neither deleted nor added */
	if ((rc = subs_apply(fw, &p, +1, &add)) < 0 || (old && (rc = subs_apply(fw, &po, -1, &del)) < 0) ||
	    (rc = netd_pub_put(fw->pub, &p.e, &d)) < 0 || (rc = delta_elists(&d, &del, &add)) < 0) {
		netd_err_set(err, rc, NETD_ERR_INTERNAL, "out of memory");
		resync_soon(fw);
		goto out;
	}
	if ((rc = send_change(fw, &del, &add,
			      netd_icc_off(fw->state, ep->network) || (old && netd_icc_off(fw->state, old->network)),
			      ep, NULL, err)) < 0) {
		resync_soon(fw);
		goto out;
	}
	if (p.e.n_maps)
		route_localnet(fw, &p);
out:
	netd_pub_delta_free(&d);
	elist_free(&del);
	elist_free(&add);
	pep_free(&p);
	pep_free(&po);
	return rc;
}

int netd_fw_del(struct netd_fw *fw, const struct netd_ep *ep, struct netd_err *err)
{
	struct pep p;
	struct netd_pub_delta d = {0};
	struct elist del = {0}, add = {0};
	int rc;

	if ((rc = pep_parse(ep, &p, err)) < 0)
		return rc;
	if ((rc = subs_apply(fw, &p, -1, &del)) < 0 || (rc = netd_pub_del(fw->pub, ep->id, &d)) < 0 ||
	    (rc = delta_elists(&d, &del, &add)) < 0)
		netd_err_set(err, rc, NETD_ERR_INTERNAL, "out of memory");
	else
		rc = send_change(fw, &del, &add, netd_icc_off(fw->state, ep->network), NULL, ep->id, err);
	if (rc < 0)
		resync_soon(fw);
	netd_pub_delta_free(&d);
	elist_free(&del);
	elist_free(&add);
	pep_free(&p);
	return rc;
}

const char *netd_fw_warning(const struct netd_fw *fw)
{
	return fw->warning;
}

size_t netd_fw_published(const struct netd_fw *fw)
{
	return netd_pub_count(fw->pub);
}

unsigned long netd_fw_rebuilds(const struct netd_fw *fw)
{
	return fw->rebuilds;
}
