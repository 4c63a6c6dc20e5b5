/* icc.c — table `bridge <name>` (icc.h has what and why).
 *
 *   set iccoff4 { ipv4_addr . ipv4_addr, interval }   subnet . subnet, icc=false networks
 *   set links4  { ipv4_addr . ipv4_addr . inet_proto . inet_service }
 *                                                     linker . linked . exposed port
 *   chain forward { filter, bridge forward, -100 (before br_netfilter, 0) }:
 *     ip saddr . ip daddr . meta l4proto . th dport @links4 accept
 *     ip daddr . ip saddr . meta l4proto . th sport @links4 accept   (the answers)
 *     ip saddr . ip daddr @iccoff4 drop
 *     (and the same for ip6)
 * Answers are matched by their reversed tuple rather than by conntrack,
 * which the bridge family has only with nf_conntrack_bridge. For the same
 * reason, where br_netfilter is loaded a container cannot reach a published
 * port of a neighbour on its own icc=false network through the host's
 * address: br_netfilter translates that packet inside the bridge, and the
 * drop here cannot tell it from direct traffic (docs/netd.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "icc.h"
#include "netd/addr.h"
#include "netd/portmap.h"

#define TYPE_INET_PROTO 12
#define TYPE_INET_SERVICE 13
#define T(a, b) (((a) << NETD_NFT_TYPE_BITS) | (b))
#define R(i) (NFT_REG32_00 + (i))

enum { S_OFF4, S_OFF6, S_LINKS4, S_LINKS6, S_N };

static const struct netd_nft_set sets[S_N] = {
	[S_OFF4] = {.name = "iccoff4", .key_type = T(NETD_NFT_TYPE_IPADDR, NETD_NFT_TYPE_IPADDR), .key_len = 8,
		    .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT, .concat = {4, 4}},
	[S_OFF6] = {.name = "iccoff6", .key_type = T(NETD_NFT_TYPE_IP6ADDR, NETD_NFT_TYPE_IP6ADDR), .key_len = 32,
		    .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT, .concat = {16, 16}},
	[S_LINKS4] = {.name = "links4",
		      .key_type = T(T(T(NETD_NFT_TYPE_IPADDR, NETD_NFT_TYPE_IPADDR), TYPE_INET_PROTO), TYPE_INET_SERVICE),
		      .key_len = 16},
	[S_LINKS6] = {.name = "links6",
		      .key_type = T(T(T(NETD_NFT_TYPE_IP6ADDR, NETD_NFT_TYPE_IP6ADDR), TYPE_INET_PROTO), TYPE_INET_SERVICE),
		      .key_len = 40},
};

/* rule i: v6 = i / 3; 0 link, 1 link answer, 2 drop */
static struct nftnl_rule *rule_forward(const struct netd_nft_table *t, int i)
{
	struct nftnl_rule *r = netd_nft_rule_new(t, "forward");
	int rc = r ? 0 : -ENOMEM, v6 = i / 3, k = i % 3;
	uint16_t proto = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	uint32_t alen = v6 ? 16 : 4, src = v6 ? 8 : 12, dst = v6 ? 24 : 16, n = v6 ? 4 : 1;

	if (!r)
		return NULL;
	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_PROTOCOL, R(0)), &rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(R(0), &proto, 2), &rc);
	/* the pair: (saddr . daddr), reversed for answers */
	netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, k == 1 ? dst : src, alen, R(0)), &rc);
	netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, k == 1 ? src : dst, alen, R(n)), &rc);
	if (k < 2) {
		netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_L4PROTO, R(2 * n)), &rc);
		netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, k == 1 ? 0 : 2, 2, R(2 * n + 1)),
				  &rc);
		netd_nft_rule_add(r, netd_nft_e_lookup(R(0), sets[v6 ? S_LINKS6 : S_LINKS4].name, 0), &rc);
		netd_nft_rule_add(r, netd_nft_e_verdict(NF_ACCEPT), &rc);
	} else {
		netd_nft_rule_add(r, netd_nft_e_lookup(R(0), sets[v6 ? S_OFF6 : S_OFF4].name, 0), &rc);
		netd_nft_rule_add(r, netd_nft_e_verdict(NF_DROP), &rc);
	}
	return netd_nft_rule_done(r, rc);
}

static const struct netd_nft_chain chains[] = {
	{"forward", "filter", NF_BR_FORWARD, -100, 6, rule_forward},	/* before br_netfilter (0) */
};

/* ---- from the state ------------------------------------------------------ */

bool netd_icc_off(const struct netd_state *s, const char *network)
{
	const struct netd_net *n = netd_state_get_net(s, network);
	json_t *j, *v;
	bool off;

	if (!n || !strstr(n->json, "icc"))
		return false;
	j = json_loads(n->json, 0, NULL);
	v = json_object_get(json_object_get(j, "options"), "icc");
	off = json_is_string(v) && (!strcmp(json_string_value(v), "false") || !strcmp(json_string_value(v), "0"));
	json_decref(j);
	return off;
}

/* One endpoint of an icc=false network, parsed. */
struct iep {
	const struct netd_ep *ep;
	json_t *j;
	struct netd_addr a[2];	/* first v4, first v6 */
};

static void iep_parse(struct iep *x, const struct netd_ep *ep)
{
	json_t *v;
	size_t i;

	memset(x, 0, sizeof(*x));
	x->ep = ep;
	x->j = json_loads(ep->json, 0, NULL);
	json_array_foreach(json_object_get(x->j, "ips"), i, v) {
		struct netd_prefix p;

		if (netd_prefix_parse(json_string_value(v), &p) < 0)
			continue;
		if (!x->a[p.addr.family == AF_INET6].family)
			x->a[p.addr.family == AF_INET6] = p.addr;
	}
}

static int push(struct netd_nft_elems *l, const struct netd_nft_set *set, const uint8_t *key, uint32_t klen,
		const uint8_t *key_end)
{
	struct netd_nft_elem *e = netd_nft_elems_push(l);

	if (!e)
		return -ENOMEM;
	e->set = set;
	memcpy(e->key, key, klen);
	e->klen = klen;
	if (key_end) {
		memcpy(e->key_end, key_end, klen);
		e->kelen = klen;
	}
	return 0;
}

/* linker -> linked: one element per family both have and exposed port */
static int link_elems(const struct iep *from, const struct iep *to, struct netd_nft_elems *l)
{
	json_t *v;
	size_t i;
	int rc = 0;

	json_array_foreach(json_object_get(to->j, "expose"), i, v) {
		const char *p = json_string_value(json_object_get(v, "protocol"));
		uint16_t port = (uint16_t)json_integer_value(json_object_get(v, "port"));
		uint8_t proto;

		if (netd_proto_parse(p ? p : "tcp", &proto) < 0)
			continue;
		for (int f = 0; f < 2 && !rc; f++) {
			uint8_t key[NETD_NFT_KEY_MAX] = {0};
			uint32_t alen = f ? 16 : 4;

			if (!from->a[f].family || !to->a[f].family)
				continue;
			memcpy(key, from->a[f].b, alen);
			memcpy(key + alen, to->a[f].b, alen);
			key[2 * alen] = proto;
			key[2 * alen + 4] = (uint8_t)(port >> 8);
			key[2 * alen + 5] = (uint8_t)port;
			rc = push(&l[f ? S_LINKS6 : S_LINKS4], &sets[f ? S_LINKS6 : S_LINKS4], key, 2 * alen + 8, NULL);
		}
	}
	return rc;
}

static bool links_to(const struct iep *from, const struct iep *to)
{
	json_t *v;
	size_t i;

	if (from->ep == to->ep || !strcmp(from->ep->container_id, to->ep->container_id))
		return false;
	json_array_foreach(json_object_get(from->j, "links"), i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));

		if (n && ((to->ep->name[0] && !strcmp(n, to->ep->name)) || !strcmp(n, to->ep->container_id)))
			return true;
	}
	return false;
}

/* Elements of one icc=false network. */
static int network_elems(const struct netd_state *s, const char *net, const struct netd_ep *put, const char *gone,
			 struct netd_nft_elems *l)
{
	struct iep *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (const struct netd_ep *ep = s->first;; ep = ep->next) {
		const struct netd_ep *e = ep;

		if (!ep) {
			if (!put || strcmp(put->network, net))
				break;
			e = put;	/* the one being registered, in its place at the end */
		} else if (strcmp(ep->network, net) || (put && !strcmp(ep->id, put->id)) ||
			   (gone && !strcmp(ep->id, gone))) {
			continue;
		}
		if (n == cap) {
			struct iep *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		iep_parse(&v[n++], e);
		if (!ep)
			break;
	}
	/* the network's subnets, each with itself */
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *ip;
		size_t k;

		json_array_foreach(json_object_get(v[i].j, "ips"), k, ip) {
			struct netd_prefix p, net_p;
			struct netd_addr first, last;
			uint8_t key[32], key_end[32];
			uint32_t alen;
			int f;

			if (netd_prefix_parse(json_string_value(ip), &p) < 0)
				continue;
			net_p = netd_prefix_network(&p);
			first = netd_prefix_first(&net_p);
			last = netd_prefix_last(&net_p);
			f = p.addr.family == AF_INET6;
			alen = f ? 16 : 4;
			memcpy(key, first.b, alen);
			memcpy(key + alen, first.b, alen);
			memcpy(key_end, last.b, alen);
			memcpy(key_end + alen, last.b, alen);
			bool dup = false;

			/* one element per subnet: the same key twice would be refused */
			for (size_t d = 0; d < l[f ? S_OFF6 : S_OFF4].n; d++)
				if (!memcmp(l[f ? S_OFF6 : S_OFF4].v[d].key, key, 2 * alen))
					dup = true;
			if (!dup && (rc = push(&l[f ? S_OFF6 : S_OFF4], &sets[f ? S_OFF6 : S_OFF4], key, 2 * alen,
					       key_end)) < 0)
				break;
		}
	}
	for (size_t i = 0; !rc && i < n; i++)
		for (size_t k = 0; !rc && k < n; k++)
			if (links_to(&v[i], &v[k]))
				rc = link_elems(&v[i], &v[k], l);
	for (size_t i = 0; i < n; i++)
		json_decref(v[i].j);
	free(v);
	return rc;
}

int netd_icc_batch(struct netd_nft_batch *b, const char *table, const struct netd_state *s,
		   const struct netd_ep *put, const char *gone)
{
	const struct netd_nft_table t = {NFPROTO_BRIDGE, table, chains, 1, sets, S_N};
	struct netd_nft_elems l[S_N] = {{0}};
	int rc;

	rc = netd_nft_batch_skeleton(b, &t);
	for (size_t i = 0; !rc && i < S_N; i++)
		rc = netd_nft_batch_flush_set(b, &t, &sets[i]);
	for (const struct netd_net *n = s->nets; !rc && n; n = n->next)
		if (netd_icc_off(s, n->name))
			rc = network_elems(s, n->name, put, gone, l);
	for (size_t i = 0; !rc && i < S_N; i++)
		if (l[i].n)
			rc = netd_nft_batch_elems(b, &t, NFT_MSG_NEWSETELEM, l[i].v, l[i].n, NULL);
	for (size_t i = 0; i < S_N; i++)
		free(l[i].v);
	return rc;
}
