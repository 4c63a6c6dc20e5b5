/* nft_masq.c — masquerade for container addresses in table `inet netd_cni`.
 *
 * Why two sets per family: a rule "saddr in {container addresses} and daddr
 * not in that container's subnet" needs the subnet per address. The
 * concatenated interval set masqX_local (addr . subnet-range) answers "is
 * this traffic local to the container's own subnet" in one lookup, and masqX
 * (addr) says "masquerade the rest". The rules never change after the table
 * is created. Reads (one element GET, or dumps) happen under the lock before
 * the batch, so a decision such as "this address belongs to another owner"
 * cannot go stale.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "netd/addr.h"
#include "netd/nft_masq.h"
#include "netd/nft_log.h"
#include "netd/nft_owner.h"

#define NAT_PRIO 100		/* srcnat */
#define NRULES 6		/* three per family */

static void key4_str(const uint8_t *key, char *out, size_t n)
{
	inet_ntop(AF_INET, key, out, (socklen_t)n);
}

static void key6_str(const uint8_t *key, char *out, size_t n)
{
	inet_ntop(AF_INET6, key, out, (socklen_t)n);
}

static const struct netd_nft_set sets[4] = {
	{ .name = "masq4", .key_type = NETD_NFT_TYPE_IPADDR, .key_len = 4, .key_str = key4_str },
	{ .name = "masq4_local", .key_type = NETD_NFT_TYPE_IPADDR << NETD_NFT_TYPE_BITS | NETD_NFT_TYPE_IPADDR,
	  .key_len = 8, .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT, .concat = { 4, 4 }, .key_str = key4_str },
	{ .name = "masq6", .key_type = NETD_NFT_TYPE_IP6ADDR, .key_len = 16, .key_str = key6_str },
	{ .name = "masq6_local", .key_type = NETD_NFT_TYPE_IP6ADDR << NETD_NFT_TYPE_BITS | NETD_NFT_TYPE_IP6ADDR,
	  .key_len = 32, .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT, .concat = { 16, 16 }, .key_str = key6_str },
};

struct fam {
	int af;
	uint8_t nfproto;
	const struct netd_nft_set *set;		/* addr -> masquerade */
	const struct netd_nft_set *local;	/* addr . subnet -> return */
	uint32_t alen;
	uint32_t saddr_off, daddr_off;
	uint8_t mcast[16], mcast_mask[16];
};

static const struct fam fams[2] = {
	{ AF_INET, NFPROTO_IPV4, &sets[0], &sets[1], 4, 12, 16, { 224 }, { 0xf0 } },
	{ AF_INET6, NFPROTO_IPV6, &sets[2], &sets[3], 16, 8, 24, { 0xff }, { 0xff } },
};

static struct nftnl_rule *build_rule(const struct netd_nft_table *t, int i);

static const struct netd_nft_chain chains[1] = {
	{ "postrouting", "nat", NF_INET_POST_ROUTING, NAT_PRIO, NRULES, build_rule },
};

static const struct netd_nft_table tbl = {
	NFPROTO_INET, NETD_NFT_CNI_TABLE, chains, 1, sets, 4,
};

const struct netd_nft_table *netd_nft_masq_table(void)
{
	return &tbl;
}

static const struct fam *fam_of(int af)
{
	return af == AF_INET ? &fams[0] : af == AF_INET6 ? &fams[1] : NULL;
}

static const struct fam *fam_of_set(const struct netd_nft_set *s)
{
	return s == fams[0].set || s == fams[0].local ? &fams[0] : &fams[1];
}

/* Rule i: family i / 3; multicast return, local return, masquerade. */
static struct nftnl_rule *build_rule(const struct netd_nft_table *t, int i)
{
	const struct fam *f = &fams[i / 3];
	struct nftnl_rule *r = netd_nft_rule_new(t, chains[0].name);
	int rc = 0;

	if (!r)
		return NULL;
	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_NFPROTO, NFT_REG_1), &rc);
	netd_nft_rule_add(r, netd_nft_e_cmp(NFT_REG_1, &f->nfproto, 1), &rc);
	switch (i % 3) {
	case 0:
		netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, f->daddr_off, f->alen, NFT_REG_1), &rc);
		netd_nft_rule_add(r, netd_nft_e_mask(NFT_REG_1, f->mcast_mask, f->alen), &rc);
		netd_nft_rule_add(r, netd_nft_e_cmp(NFT_REG_1, f->mcast, f->alen), &rc);
		netd_nft_rule_add(r, netd_nft_e_verdict(NFT_RETURN), &rc);
		break;
	case 1:
		/* concatenation: each field starts on a 32-bit register. Spelled
		 * the way the kernel reports them back (a 32-bit register that
		 * starts a 128-bit one is named by the latter). */
		netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, f->saddr_off, f->alen, NFT_REG_1), &rc);
		netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, f->daddr_off, f->alen,
							f->alen == 16 ? NFT_REG_2 : NFT_REG32_00 + f->alen / 4), &rc);
		netd_nft_rule_add(r, netd_nft_e_lookup(NFT_REG_1, f->local->name, 0), &rc);
		netd_nft_rule_add(r, netd_nft_e_verdict(NFT_RETURN), &rc);
		break;
	default:
		netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_NETWORK_HEADER, f->saddr_off, f->alen, NFT_REG_1), &rc);
		netd_nft_rule_add(r, netd_nft_e_lookup(NFT_REG_1, f->set->name, 0), &rc);
		netd_nft_rule_add(r, nftnl_expr_alloc("masq"), &rc);
		break;
	}
	return netd_nft_rule_done(r, rc);
}

/* ---- elements ------------------------------------------------------------ */

/* What an address element's comment "<owner> <subnet>/<len>" says. */
struct masq_info {
	char owner[65];
	uint8_t net[16];
	unsigned plen;
	bool has_net;
};

static void info_of(const struct netd_nft_elem *e, struct masq_info *i)
{
	const struct fam *f = fam_of_set(e->set);
	const char *sp = strchr(e->comment, ' ');
	struct netd_prefix p;

	memset(i, 0, sizeof(*i));
	netd_nft_elem_owner(e, i->owner);
	if (sp && netd_prefix_parse(sp + 1, &p) == 0 && p.addr.family == f->af) {
		memcpy(i->net, p.addr.b, f->alen);
		i->plen = p.len;
		i->has_net = true;
	}
}

/* The two elements an address owns: addr in masqX, addr . subnet in masqX_local. */
static void elems_for(const struct fam *f, const uint8_t *addr, const uint8_t *net, unsigned plen,
		      struct netd_nft_elem out[2])
{
	struct netd_prefix p = { .addr.family = f->af, .len = (uint8_t)plen };
	struct netd_addr first, last;

	memcpy(p.addr.b, net, f->alen);
	first = netd_prefix_first(&p);
	last = netd_prefix_last(&p);
	memset(out, 0, 2 * sizeof(out[0]));
	out[0].set = f->set;
	memcpy(out[0].key, addr, f->alen);
	out[0].klen = f->alen;
	out[1].set = f->local;
	memcpy(out[1].key, addr, f->alen);
	memcpy(out[1].key + f->alen, first.b, f->alen);
	memcpy(out[1].key_end, addr, f->alen);
	memcpy(out[1].key_end + f->alen, last.b, f->alen);
	out[1].klen = out[1].kelen = f->alen * 2;
}

/* GET addr's element of masqX: 1 found (*found, *info filled), 0 absent. */
static int get_addr(struct netd_nft_conn *c, const struct fam *f, const uint8_t *addr,
		    struct netd_nft_elem *found, struct masq_info *info, struct netd_err *err)
{
	struct netd_nft_elems out = { 0 };
	int rc = netd_nft_read_elems(c, &tbl, f->set, addr, f->alen, &out, err);

	if (rc == 0 && out.n) {
		*found = out.v[0];
		info_of(found, info);
		rc = 1;
	}
	free(out.v);
	return rc;
}

/* Batch the removal of an address element e (as read from masqX) and the
 * masqX_local element its comment names; that one is added before it is
 * deleted, so a missing one (an edited set) does not fail the batch. */
static int batch_del_addr(struct netd_nft_batch *b, const struct netd_nft_elem *e)
{
	const struct fam *f = fam_of_set(e->set);
	struct netd_nft_elem gone[2];
	struct masq_info i;
	int rc;

	info_of(e, &i);
	elems_for(f, e->key, i.has_net ? i.net : e->key, i.has_net ? i.plen : f->alen * 8, gone);
	if ((rc = netd_nft_batch_elems(b, &tbl, NFT_MSG_DELSETELEM, &gone[0], 1, NULL)) < 0 || !i.has_net)
		return rc;
	if ((rc = netd_nft_batch_elems(b, &tbl, NFT_MSG_NEWSETELEM, &gone[1], 1, NULL)) < 0)
		return rc;
	return netd_nft_batch_elems(b, &tbl, NFT_MSG_DELSETELEM, &gone[1], 1, NULL);
}

static int read_addrs(struct netd_nft_conn *c, struct netd_nft_elems *out, bool with_local, struct netd_err *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < 2; i++) {
		rc = netd_nft_read_elems(c, &tbl, fams[i].set, NULL, 0, out, err);
		if (rc == 0 && with_local)
			rc = netd_nft_read_elems(c, &tbl, fams[i].local, NULL, 0, out, err);
	}
	return rc;
}

/* ---- add / has ----------------------------------------------------------- */

struct add_arg {
	const struct fam *f;
	const struct netd_prefix *addr;
	const char *owner;
	char comment[NETD_NFT_COMMENT_MAX];	/* "<owner> <subnet>" */
	struct netd_addr first;
	struct netd_nft_elem want[2];
};

static bool same_as(const struct add_arg *a, const struct masq_info *i)
{
	return i->has_net && !strcmp(i->owner, a->owner) && i->plen == a->addr->len &&
	       !memcmp(i->net, a->first.b, a->f->alen);
}

static int add_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	struct add_arg *a = arg;
	const struct fam *f = a->f;
	struct netd_nft_elem old, gone[2];
	struct masq_info oi;
	struct netd_nft_batch b;
	int rc, found, attempt, intact, same;

	if ((found = get_addr(c, f, a->addr->addr.b, &old, &oi, err)) < 0)
		return found;
	if ((intact = netd_nft_rules_ok(c, &tbl, err)) < 0)
		return intact;
	same = found && same_as(a, &oi);
	if (intact && same)
		return 0;	/* already there, same owner, same subnet */
	/* With the rules intact, try without the skeleton; a set may still be
	 * missing (ENOENT), then build everything in the batch. */
	for (attempt = intact ? 0 : 1; attempt < 2; attempt++) {
		if ((rc = netd_nft_batch_init(&b, c)) < 0)
			break;
		if (attempt && (rc = netd_nft_batch_skeleton(&b, &tbl)) < 0)
			goto next;
		if (found && !same) {
			/* Replace: the address was reused. Add-then-delete makes the
			 * deletes succeed even if an old element is already missing. */
			elems_for(f, a->addr->addr.b, oi.has_net ? oi.net : a->first.b,
				  oi.has_net ? oi.plen : a->addr->len, gone);
			if ((rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_NEWSETELEM, &gone[1], 1, NULL)) < 0 ||
			    (rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_DELSETELEM, &gone[0], 1, NULL)) < 0 ||
			    (rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_DELSETELEM, &gone[1], 1, NULL)) < 0)
				goto next;
		}
		if ((rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_NEWSETELEM, &a->want[0], 1, a->comment)) < 0 ||
		    (rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_NEWSETELEM, &a->want[1], 1, a->comment)) < 0)
			goto next;
		if (attempt == 0) {
			struct netd_err quiet = { 0 };

			rc = netd_nft_batch_send(c, &b, &quiet);
			if (rc == -ENOENT && !found) {
				netd_nft_batch_free(&b);
				continue;
			}
			if (rc < 0)
				netd_err_set(err, rc, quiet.code, "%s", quiet.msg);
			if (rc < 0 && quiet.details[0])
				netd_err_details(err, "%s", quiet.details);
		} else {
			rc = netd_nft_batch_send(c, &b, err);
		}
next:
		netd_nft_batch_free(&b);
		break;
	}
	if (rc == -ENOMEM && !netd_err_isset(err))
		netd_nft_oom(err);
	return rc < 0 ? rc : 0;
}

static int check_prefix(const struct netd_prefix *addr, const char *owner, struct add_arg *a, struct netd_err *err)
{
	if (!addr || !(a->f = fam_of(addr->addr.family)))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: address family not IPv4/IPv6");
	if (addr->len > a->f->alen * 8)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: prefix length %u too long",
				    addr->len);
	if (!owner)
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	a->addr = addr;
	a->owner = owner;
	a->first = netd_prefix_first(addr);
	return 0;
}

int netd_nft_masq_add(const struct netd_prefix *addr, const char *owner, struct netd_err *err)
{
	struct add_arg a = { 0 };
	char pfx[NETD_PREFIX_STRLEN];
	struct netd_prefix net;
	int rc;

	if ((rc = check_prefix(addr, owner, &a, err)) < 0)
		return rc;
	if (!netd_nft_owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	net = netd_prefix_network(addr);
	snprintf(a.comment, sizeof(a.comment), "%s %s", owner, netd_prefix_str(&net, pfx));
	elems_for(a.f, addr->addr.b, a.first.b, addr->len, a.want);
	rc = netd_nft_locked(add_op, &a, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "masquerade for %s", netd_prefix_str(addr, pfx));
	return rc < 0 ? rc : 0;
}

static int has_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	struct add_arg *a = arg;
	struct netd_nft_elem old;
	struct masq_info oi;
	int rc = get_addr(c, a->f, a->addr->addr.b, &old, &oi, err);

	if (rc == 1)
		rc = same_as(a, &oi);
	if (rc == 1)
		rc = netd_nft_rules_ok(c, &tbl, err);
	return rc;
}

int netd_nft_masq_has(const struct netd_prefix *addr, const char *owner, struct netd_err *err)
{
	struct add_arg a = { 0 };
	int rc;

	if ((rc = check_prefix(addr, owner, &a, err)) < 0)
		return rc;
	return netd_nft_locked(has_op, &a, err);
}

/* ---- del / gc / list ----------------------------------------------------- */

/* DEL by owner lists masq4 and masq6 only: each element's comment names its
 * subnet, which gives the masqX_local element without listing those (larger,
 * interval) sets. (GC lists all four, and so also removes local elements
 * left without their address element.) */
int netd_nft_masq_batch_del(struct netd_nft_conn *c, struct netd_nft_batch *b, const char *owner,
			    const struct netd_addr *addrs, size_t naddrs, struct netd_err *err)
{
	struct netd_nft_elems all = { 0 };
	struct netd_nft_elem old;
	struct masq_info oi;
	size_t i;
	int rc = 0;

	for (i = 0; addrs && rc == 0 && i < naddrs; i++) {
		const struct fam *f = fam_of(addrs[i].family);

		if (!f)
			continue;
		rc = get_addr(c, f, addrs[i].b, &old, &oi, err);
		rc = rc == 1 && !strcmp(oi.owner, owner) ? batch_del_addr(b, &old) : rc < 0 ? rc : 0;
	}
	if (!addrs && (rc = read_addrs(c, &all, false, err)) == 0)
		rc = netd_nft_batch_owned(b, &all, owner, batch_del_addr);
	free(all.v);
	if (rc == -ENOMEM && !netd_err_isset(err))
		netd_nft_oom(err);
	return rc;
}

static int gc_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	const struct netd_nft_gc *g = arg;
	struct netd_nft_elems all = { 0 };
	struct netd_nft_batch b;
	size_t i, j, n = 0;
	char owner[65];
	int rc;

	if ((rc = read_addrs(c, &all, true, err)) < 0)
		goto out;
	for (i = 0; i < all.n; i++) {
		netd_nft_elem_owner(&all.v[i], owner);
		if (netd_nft_gc_picks(g, owner))
			all.v[n++] = all.v[i];
	}
	if (!n)
		goto out;
	if ((rc = netd_nft_batch_init(&b, c)) < 0) {
		rc = netd_nft_oom(err);
		goto out;
	}
	/* elements arrive grouped by set (read order): one run per set */
	for (i = 0; rc == 0 && i < n; i = j) {
		for (j = i + 1; j < n && all.v[j].set == all.v[i].set; j++)
			;
		if ((rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_DELSETELEM, &all.v[i], j - i, NULL)) < 0)
			rc = netd_nft_oom(err);
	}
	if (rc == 0)
		rc = netd_nft_batch_send(c, &b, err);
	netd_nft_batch_free(&b);
out:
	free(all.v);
	return rc;
}

int netd_nft_masq_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err)
{
	return netd_nft_gc(network, keep, n, gc_op, "masquerade", NETD_NFT_LOG_MASQ, err);
}

static int list_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	return read_addrs(c, arg, false, err);
}

int netd_nft_masq_list(struct netd_nft_masq_entry **out, size_t *n, struct netd_err *err)
{
	struct netd_nft_elems all = { 0 };
	struct netd_nft_masq_entry *v = NULL;
	struct masq_info info;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	rc = netd_nft_locked(list_op, &all, err);
	if (rc == 0 && all.n && !(v = calloc(all.n, sizeof(*v))))
		rc = netd_nft_oom(err);
	for (i = 0; rc == 0 && i < all.n; i++) {
		const struct fam *f = fam_of_set(all.v[i].set);

		info_of(&all.v[i], &info);
		v[i].addr.addr.family = f->af;
		memcpy(v[i].addr.addr.b, all.v[i].key, f->alen);
		v[i].addr.len = (uint8_t)(info.has_net ? info.plen : f->alen * 8);
		snprintf(v[i].owner, sizeof(v[i].owner), "%s", info.owner);
	}
	free(all.v);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = all.n;
	return 0;
}
