/* nl_neigh.c — route netlink for layer 2: neighbours, bridge FDB entries,
 * and the overlay's listings (a bridge's ports, a device's FDB remotes, who
 * owns an address). Transport and links: nl.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "netd/nl.h"
#include "nl_internal.h"

/* ---- neighbours and FDB --------------------------------------------- */

static struct nl_msg *neigh_msg(int type, int flags, int family, int ifindex, uint8_t ntf,
				const struct netd_addr *dst, const uint8_t *mac)
{
	struct ndmsg nd = {
		.ndm_family = family,
		.ndm_ifindex = ifindex,
		.ndm_state = NUD_PERMANENT,
		.ndm_flags = ntf,
	};
	struct nl_msg *m = new_msg(type, flags, &nd, sizeof(nd));

	if (m && ((dst && dst->family && nla_put(m, NDA_DST, netd_addr_len(dst), dst->b) < 0) ||
		  (mac && nla_put(m, NDA_LLADDR, 6, mac) < 0))) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

int netd_nl_neigh_set(struct netd_nl *nl, int ifindex, const struct netd_addr *a, const uint8_t mac[6],
		      struct netd_err *err)
{
	char buf[NETD_ADDR_STRLEN];
	int rc;

	if (!family_ok(a->family))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "neighbour: no address");
	rc = change(nl, neigh_msg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, a->family, ifindex, 0, a, mac));
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set neighbour %s", netd_addr_str(a, buf)) : 0;
}

int netd_nl_neigh_del(struct netd_nl *nl, int ifindex, const struct netd_addr *a, struct netd_err *err)
{
	char buf[NETD_ADDR_STRLEN];
	int rc;

	if (!family_ok(a->family))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "neighbour: no address");
	rc = change(nl, neigh_msg(RTM_DELNEIGH, 0, a->family, ifindex, 0, a, NULL));
	if (rc == -ENOENT || rc == -ENODEV)
		return -ENOENT;
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "delete neighbour %s", netd_addr_str(a, buf)) : 0;
}

int netd_nl_fdb_set(struct netd_nl *nl, int ifindex, const uint8_t mac[6], const struct netd_addr *dst,
		    struct netd_err *err)
{
	/* The all-zero (flood) and multicast MACs hold a list of remotes, one
	 * per peer VTEP; vxlan refuses REPLACE on them, so they append. */
	bool list = (mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
	char buf[18];
	int rc = change(nl, neigh_msg(RTM_NEWNEIGH, NLM_F_CREATE | (list ? NLM_F_APPEND : NLM_F_REPLACE),
				      AF_BRIDGE, ifindex, NTF_SELF, dst, mac));

	if (rc == -EEXIST && list)
		return 0;
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set FDB entry %s", netd_mac_str(mac, buf)) : 0;
}

int netd_nl_fdb_del(struct netd_nl *nl, int ifindex, const uint8_t mac[6], const struct netd_addr *dst,
		    struct netd_err *err)
{
	char buf[18];
	int rc = change(nl, neigh_msg(RTM_DELNEIGH, 0, AF_BRIDGE, ifindex, NTF_SELF, dst, mac));

	if (rc == -ENOENT || rc == -ENODEV)
		return -ENOENT;
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "delete FDB entry %s", netd_mac_str(mac, buf)) : 0;
}

/* ---- listings for the overlay: bridge ports, a device's FDB ---------- */

struct master_filter {
	int master;
};

static struct nl_msg *build_master_dump(const void *ctx)
{
	const struct master_filter *f = ctx;
	struct nl_msg *m = link_msg(RTM_GETLINK, NLM_F_DUMP, AF_UNSPEC, 0);

	if (m && (nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0 ||
		  nla_put_u32(m, IFLA_MASTER, f->master) < 0)) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

static int parse_port_vec(struct nlmsghdr *nlh, void *arg)
{
	struct vec *v = arg;
	const struct master_filter *f = v->filter;
	struct netd_link l = {0}, *p;
	int rc;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if ((rc = parse_link(nlh, &l)) < 0)
		return rc;
	/* The kernel filters by IFLA_MASTER; this guards kernels that ignore it. */
	if (l.master != f->master)
		return 0;
	if (!(p = vec_push(v)))
		return -ENOMEM;
	*p = l;
	return 0;
}

int netd_nl_link_list_master(struct netd_nl *nl, int master, struct netd_link **out, size_t *n,
			     struct netd_err *err)
{
	struct master_filter f = { master };
	struct vec v = { .size = sizeof(struct netd_link), .filter = &f };
	int rc = dump(nl, build_master_dump, &f, parse_port_vec, &v);

	if (rc < 0) {
		free(v.v);
		return fail_link(nl, err, rc, master, "list ports");
	}
	*out = v.v;
	*n = v.n;
	return 0;
}

static struct nl_msg *build_fdb_dump(const void *ctx)
{
	const int *ifindex = ctx;
	struct ndmsg nd = { .ndm_family = AF_BRIDGE };
	struct nl_msg *m = new_msg(RTM_GETNEIGH, NLM_F_DUMP, &nd, sizeof(nd));

	if (m && nla_put_u32(m, NDA_IFINDEX, *ifindex) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

static int parse_fdb(struct nlmsghdr *nlh, void *arg)
{
	struct vec *v = arg;
	const int *ifindex = v->filter;
	struct ndmsg *nd = nlmsg_data(nlh);
	struct nlattr *tb[NDA_MAX + 1];
	struct netd_fdb *e;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || nlmsg_parse(nlh, sizeof(*nd), tb, NDA_MAX, NULL) < 0)
		return 0;
	/* Only the device's own table (a vxlan's remotes), not what a bridge
	 * it is a port of learnt about it (NTF_MASTER). */
	if ((int)nd->ndm_ifindex != *ifindex || !(nd->ndm_flags & NTF_SELF) || !tb[NDA_LLADDR] ||
	    nla_len(tb[NDA_LLADDR]) != 6 || !tb[NDA_DST] ||
	    (nla_len(tb[NDA_DST]) != 4 && nla_len(tb[NDA_DST]) != 16))
		return 0;
	if (!(e = vec_push(v)))
		return -ENOMEM;
	memcpy(e->mac, nla_data(tb[NDA_LLADDR]), 6);
	e->dst.family = nla_len(tb[NDA_DST]) == 4 ? AF_INET : AF_INET6;
	memcpy(e->dst.b, nla_data(tb[NDA_DST]), nla_len(tb[NDA_DST]));
	e->permanent = nd->ndm_state & NUD_PERMANENT;
	return 0;
}

int netd_nl_fdb_list(struct netd_nl *nl, int ifindex, struct netd_fdb **out, size_t *n, struct netd_err *err)
{
	struct vec v = { .size = sizeof(struct netd_fdb), .filter = &ifindex };
	int rc = dump(nl, build_fdb_dump, &ifindex, parse_fdb, &v);

	if (rc < 0) {
		free(v.v);
		return fail_link(nl, err, rc, ifindex, "list FDB entries");
	}
	*out = v.v;
	*n = v.n;
	return 0;
}
