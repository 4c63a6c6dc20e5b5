/* nft_macspoof.c — macspoofchk in table `bridge netd_cni`: two sets and one
 * fixed rule (nft_macspoof.h shows them), over the table core. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/rule.h>

#include "netd/addr.h"
#include "netd/nft_macspoof.h"
#include "netd/nft_log.h"
#include "netd/nft_owner.h"
#include "netd/util.h"

#define MSP_PRIO (-300)		/* before anything else on the bridge (dstnat) */
#define IFNAME_LEN 16		/* IFNAMSIZ: keys are zero-padded to it */
#define ALLOW_KLEN 24		/* ifname . ether_addr, each field 32-bit aligned */
#define LL_SADDR_OFF 6

static void ifname_str(const uint8_t *key, char *out, size_t n)
{
	snprintf(out, n, "%.*s", IFNAME_LEN, (const char *)key);
}

static const struct netd_nft_set sets[2] = {
	/* nft prints a lone string key only if told it is host-endian (as nft
	 * itself records it); a concatenation needs no hint */
	{ .name = "macspoof_ifaces", .key_type = NETD_NFT_TYPE_IFNAME, .key_len = IFNAME_LEN,
	  .host_order_key = true, .key_str = ifname_str },
	{ .name = "macspoof_allow", .key_type = NETD_NFT_TYPE_IFNAME << NETD_NFT_TYPE_BITS | NETD_NFT_TYPE_ETHERADDR,
	  .key_len = ALLOW_KLEN, .key_str = ifname_str },
};
#define IFACES (&sets[0])
#define ALLOW (&sets[1])

static struct nftnl_rule *build_rule(const struct netd_nft_table *t, int i);

static const struct netd_nft_chain chains[1] = {
	{ "macspoof", "filter", NF_BR_PRE_ROUTING, MSP_PRIO, 1, build_rule },
};

static const struct netd_nft_table tbl = {
	NFPROTO_BRIDGE, NETD_NFT_CNI_TABLE, chains, 1, sets, 2,
};

const struct netd_nft_table *netd_nft_macspoof_table(void)
{
	return &tbl;
}

/* iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow drop */
static struct nftnl_rule *build_rule(const struct netd_nft_table *t, int i)
{
	struct nftnl_rule *r = netd_nft_rule_new(t, chains[0].name);
	int rc = 0;

	(void)i;
	if (!r)
		return NULL;
	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_IIFNAME, NFT_REG_1), &rc);
	netd_nft_rule_add(r, netd_nft_e_lookup(NFT_REG_1, IFACES->name, 0), &rc);
	netd_nft_rule_add(r, netd_nft_e_meta(NFT_META_IIFNAME, NFT_REG_1), &rc);
	/* the MAC goes right after the 16-byte name: 32-bit register 4, which
	 * the kernel reports as NFT_REG_2 */
	netd_nft_rule_add(r, netd_nft_e_payload(NFT_PAYLOAD_LL_HEADER, LL_SADDR_OFF, 6, NFT_REG_2), &rc);
	netd_nft_rule_add(r, netd_nft_e_lookup(NFT_REG_1, ALLOW->name, NFT_LOOKUP_F_INV), &rc);
	netd_nft_rule_add(r, netd_nft_e_verdict(NF_DROP), &rc);
	return netd_nft_rule_done(r, rc);
}

bool netd_nft_macspoof_ifname_ok(const char *n)
{
	return netd_ifname_valid(n);
}

static struct netd_nft_elem port_elem(const char *ifname)
{
	struct netd_nft_elem e = { .set = IFACES, .klen = IFNAME_LEN };

	memcpy(e.key, ifname, strlen(ifname));
	return e;
}

static struct netd_nft_elem allow_elem(const uint8_t *ifkey, const uint8_t mac[6])
{
	struct netd_nft_elem e = { .set = ALLOW, .klen = ALLOW_KLEN };

	memcpy(e.key, ifkey, IFNAME_LEN);
	memcpy(e.key + IFNAME_LEN, mac, 6);
	return e;
}

/* A port element's comment: "<owner> <mac>". */
static bool port_mac(const struct netd_nft_elem *port, uint8_t mac[6])
{
	const char *sp = strchr(port->comment, ' ');

	return sp && netd_mac_parse(sp + 1, mac) == 0;
}

/* The guarded-port element of ifname, if any: 1 (*port filled), 0, <0. */
static int get_port(struct netd_nft_conn *c, const char *ifname, struct netd_nft_elem *port,
		    struct netd_err *err)
{
	struct netd_nft_elems out = { 0 };
	struct netd_nft_elem key = port_elem(ifname);
	int rc = netd_nft_read_elems(c, &tbl, IFACES, key.key, IFNAME_LEN, &out, err);

	if (rc == 0 && out.n) {
		*port = out.v[0];
		rc = 1;
	}
	free(out.v);
	return rc;
}

/* Batch the removal of a guarded port (its ifaces element) and its allow
 * element. The allow element is added before it is deleted, so a missing one
 * (edited set) does not fail the batch. */
static int batch_del_port(struct netd_nft_batch *b, const struct netd_nft_elem *port)
{
	struct netd_nft_elem allow;
	uint8_t mac[6];
	int rc;

	if ((rc = netd_nft_batch_elems(b, &tbl, NFT_MSG_DELSETELEM, port, 1, NULL)) < 0 || !port_mac(port, mac))
		return rc;
	allow = allow_elem(port->key, mac);
	if ((rc = netd_nft_batch_elems(b, &tbl, NFT_MSG_NEWSETELEM, &allow, 1, NULL)) < 0)
		return rc;
	return netd_nft_batch_elems(b, &tbl, NFT_MSG_DELSETELEM, &allow, 1, NULL);
}

struct msp_arg {
	const char *ifname;
	const uint8_t *mac;
	const char *owner;
	char comment[NETD_NFT_COMMENT_MAX];	/* "<owner> <mac>" */
};

/* Does port say owner guards it with mac? */
static bool port_is(const struct netd_nft_elem *port, const struct msp_arg *a)
{
	char owner[65];
	uint8_t mac[6];

	netd_nft_elem_owner(port, owner);
	return port_mac(port, mac) && !strcmp(owner, a->owner) && !memcmp(mac, a->mac, 6);
}

static int add_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	struct msp_arg *a = arg;
	struct netd_nft_elem old, port = port_elem(a->ifname), allow = allow_elem(port.key, a->mac);
	struct netd_nft_batch b;
	int rc, found, intact, same;

	if ((found = get_port(c, a->ifname, &old, err)) < 0)
		return found;
	if ((intact = netd_nft_rules_ok(c, &tbl, err)) < 0)
		return intact;
	same = found && port_is(&old, a);
	if (intact && same)
		return 0;
	if ((rc = netd_nft_batch_init(&b, c)) < 0)
		return netd_nft_oom(err);
	/* an intact rule means both sets exist (a set a rule uses cannot go) */
	rc = intact ? 0 : netd_nft_batch_skeleton(&b, &tbl);
	/* the port changed hands or MAC: its old elements go, in the same batch */
	if (rc == 0 && found && !same)
		rc = batch_del_port(&b, &old);
	if (rc == 0)
		rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_NEWSETELEM, &port, 1, a->comment);
	if (rc == 0)
		rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_NEWSETELEM, &allow, 1, a->owner);
	if (rc == 0)
		rc = netd_nft_batch_send(c, &b, err);
	else
		rc = netd_nft_oom(err);
	netd_nft_batch_free(&b);
	return rc < 0 ? rc : 0;
}

static int has_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	struct msp_arg *a = arg;
	struct netd_nft_elems out = { 0 };
	struct netd_nft_elem port, allow;
	char owner[65];
	int rc;

	rc = get_port(c, a->ifname, &port, err);
	if (rc == 1)
		rc = port_is(&port, a);
	if (rc == 1) {
		allow = allow_elem(port.key, a->mac);
		rc = netd_nft_read_elems(c, &tbl, ALLOW, allow.key, ALLOW_KLEN, &out, err);
		if (rc == 0 && out.n == 1)
			netd_nft_elem_owner(&out.v[0], owner);
		if (rc == 0)
			rc = out.n == 1 && !strcmp(owner, a->owner);
		free(out.v);
	}
	if (rc == 1)
		rc = netd_nft_rules_ok(c, &tbl, err);
	return rc;
}

static int check_args(const char *ifname, const uint8_t *mac, const char *owner, struct netd_err *err)
{
	if (!netd_nft_macspoof_ifname_ok(ifname) || !mac)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: macspoofchk: bad interface name");
	if (!owner)
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	return 0;
}

int netd_nft_macspoof_add(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err)
{
	struct msp_arg a = { .ifname = host_ifname, .mac = mac, .owner = owner };
	char m[18];
	int rc;

	if ((rc = check_args(host_ifname, mac, owner, err)) < 0)
		return rc;
	if (!netd_nft_owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	snprintf(a.comment, sizeof(a.comment), "%s %s", owner, netd_mac_str(mac, m));
	rc = netd_nft_locked(add_op, &a, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "macspoofchk for %s (%s)", host_ifname, m);
	return rc;
}

int netd_nft_macspoof_has(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err)
{
	struct msp_arg a = { .ifname = host_ifname, .mac = mac, .owner = owner };
	int rc;

	if ((rc = check_args(host_ifname, mac, owner, err)) < 0)
		return rc;
	return netd_nft_locked(has_op, &a, err);
}

int netd_nft_macspoof_batch_del(struct netd_nft_conn *c, struct netd_nft_batch *b, const char *owner,
				const char *host_ifname, struct netd_err *err)
{
	struct netd_nft_elems ports = { 0 };
	struct netd_nft_elem port;
	char o[65];
	int rc;

	if (host_ifname) {
		rc = get_port(c, host_ifname, &port, err);
		if (rc == 1)
			netd_nft_elem_owner(&port, o);
		rc = rc == 1 && !strcmp(o, owner) ? batch_del_port(b, &port) : rc < 0 ? rc : 0;
	} else if ((rc = netd_nft_read_elems(c, &tbl, IFACES, NULL, 0, &ports, err)) == 0) {
		rc = netd_nft_batch_owned(b, &ports, owner, batch_del_port);
	}
	free(ports.v);
	if (rc == -ENOMEM && !netd_err_isset(err))
		netd_nft_oom(err);
	return rc;
}

/* GC lists both sets, so allow elements left without a port (an edited
 * set) go too. One batch; allow elements are added before they are
 * deleted, so a missing one is no error. */
static int gc_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	const struct netd_nft_gc *g = arg;
	struct netd_nft_elems ports = { 0 }, allows = { 0 }, pv = { 0 }, av = { 0 };
	struct netd_nft_elem *e;
	struct netd_nft_batch b;
	size_t i, k;
	uint8_t mac[6];
	char owner[65];
	int rc;

	if ((rc = netd_nft_read_elems(c, &tbl, IFACES, NULL, 0, &ports, err)) < 0 ||
	    (rc = netd_nft_read_elems(c, &tbl, ALLOW, NULL, 0, &allows, err)) < 0)
		goto out;
	for (i = 0; rc == 0 && i < ports.n; i++) {
		netd_nft_elem_owner(&ports.v[i], owner);
		if (!netd_nft_gc_picks(g, owner))
			continue;
		if (!(e = netd_nft_elems_push(&pv))) {
			rc = netd_nft_oom(err);
			break;
		}
		*e = ports.v[i];
		if (!port_mac(&ports.v[i], mac))
			continue;
		if (!(e = netd_nft_elems_push(&av))) {
			rc = netd_nft_oom(err);
			break;
		}
		*e = allow_elem(ports.v[i].key, mac);
	}
	for (i = 0; rc == 0 && i < allows.n; i++) {
		bool dup = false;

		netd_nft_elem_owner(&allows.v[i], owner);
		if (!netd_nft_gc_picks(g, owner))
			continue;
		for (k = 0; k < av.n && !dup; k++)
			dup = !memcmp(av.v[k].key, allows.v[i].key, ALLOW_KLEN);
		if (!dup && !(e = netd_nft_elems_push(&av)))
			rc = netd_nft_oom(err);
		else if (!dup)
			*e = allows.v[i];
	}
	if (rc < 0 || (!pv.n && !av.n))
		goto out;
	if ((rc = netd_nft_batch_init(&b, c)) < 0) {
		rc = netd_nft_oom(err);
		goto out;
	}
	if ((pv.n && (rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_DELSETELEM, pv.v, pv.n, NULL)) < 0) ||
	    (av.n && (rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_NEWSETELEM, av.v, av.n, NULL)) < 0) ||
	    (av.n && (rc = netd_nft_batch_elems(&b, &tbl, NFT_MSG_DELSETELEM, av.v, av.n, NULL)) < 0))
		rc = netd_nft_oom(err);
	else
		rc = netd_nft_batch_send(c, &b, err);
	netd_nft_batch_free(&b);
out:
	free(ports.v);
	free(allows.v);
	free(pv.v);
	free(av.v);
	return rc;
}

int netd_nft_macspoof_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err)
{
	return netd_nft_gc(network, keep, n, gc_op, "macspoofchk", NETD_NFT_LOG_MACSPOOF, err);
}
