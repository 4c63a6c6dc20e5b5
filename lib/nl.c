/* nl.c — route netlink: links, addresses, routes, neighbours, FDB. See netd/nl.h.
 *
 * Built on libnl-3's socket, message and attribute API. Requests are built
 * by hand (one message per operation, exactly the attributes we mean) and
 * replies parsed here rather than through libnl-route's object caches: every
 * lookup is a single-object kernel get, and a plugin ADD must not pay for a
 * dump of 1,000 veths to find one bridge.
 *
 * One request is in flight at a time on a netd_nl. Its state (kernel errno,
 * ext-ack text, "done") lives in the struct and is reset by xfer().
 *
 * Why links, addresses and routes are one file of ~1,300 lines: each is a
 * handful of short request builders and parsers over the same transport and
 * error path (xfer, dump, fail); apart they would be three small files that
 * all include the same internals. Neighbours, FDB and the overlay's
 * listings, which share less with them, are nl_neigh.c.
 */
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

#include "netd/netns.h"
#include "netd/nl.h"
#include "netd/util.h"
#include "nl_internal.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif


/* ---- errors ---------------------------------------------------------- */

/* libnl reports its own failures as NLE_* codes; the rest of netd speaks
 * errno. Kernel answers never go through this table: the error callback keeps
 * the kernel's errno as it came. */
static const struct {
	int nle, err;
} nle_table[] = {
	{ NLE_FAILURE, EIO },		{ NLE_INTR, EINTR },
	{ NLE_BAD_SOCK, EBADF },	{ NLE_AGAIN, EAGAIN },
	{ NLE_NOMEM, ENOMEM },		{ NLE_EXIST, EEXIST },
	{ NLE_INVAL, EINVAL },		{ NLE_RANGE, ERANGE },
	{ NLE_MSGSIZE, EMSGSIZE },	{ NLE_OPNOTSUPP, EOPNOTSUPP },
	{ NLE_AF_NOSUPPORT, EAFNOSUPPORT }, { NLE_OBJ_NOTFOUND, ENOENT },
	{ NLE_NOATTR, ENODATA },	{ NLE_MISSING_ATTR, EINVAL },
	{ NLE_AF_MISMATCH, EAFNOSUPPORT }, { NLE_SEQ_MISMATCH, EPROTO },
	{ NLE_MSG_OVERFLOW, EOVERFLOW }, { NLE_MSG_TRUNC, EMSGSIZE },
	{ NLE_NOADDR, EADDRNOTAVAIL },	{ NLE_SRCRT_NOSUPPORT, EOPNOTSUPP },
	{ NLE_MSG_TOOSHORT, EBADMSG },	{ NLE_MSGTYPE_NOSUPPORT, EOPNOTSUPP },
	{ NLE_OBJ_MISMATCH, EINVAL },	{ NLE_NOCACHE, ENOENT },
	{ NLE_BUSY, EBUSY },		{ NLE_PROTO_MISMATCH, EPROTONOSUPPORT },
	{ NLE_NOACCESS, EACCES },	{ NLE_PERM, EPERM },
	{ NLE_PKTLOC_FILE, ENOENT },	{ NLE_PARSE_ERR, EBADMSG },
	{ NLE_NODEV, ENODEV },		{ NLE_IMMUTABLE, EROFS },
	{ NLE_DUMP_INTR, EINTR },	{ NLE_ATTRSIZE, ERANGE },
};

static int nle2errno(int nle)
{
	size_t i;

	if (nle < 0)
		nle = -nle;
	for (i = 0; i < sizeof(nle_table) / sizeof(nle_table[0]); i++)
		if (nle_table[i].nle == nle)
			return -nle_table[i].err;
	return -EIO;
}

/* "what: strerror[: kernel ext-ack]", with the ext-ack also in details. */
__attribute__((format(printf, 4, 0)))
static int vfail(struct netd_nl *nl, struct netd_err *err, int rc, const char *fmt, va_list ap)
{
	char what[512];
	int code;

	if (!err || netd_err_isset(err))
		return rc;
	vsnprintf(what, sizeof(what), fmt, ap);
	code = rc == -EEXIST ? NETD_ERR_IN_USE : rc == -EAGAIN ? CNI_ERR_TRY_LATER : NETD_ERR_KERNEL;
	if (nl && nl->extack[0]) {
		netd_err_set(err, rc, code, "%s: %s: %s", what, strerror(-rc), nl->extack);
		netd_err_details(err, "%s", nl->extack);
	} else {
		netd_err_set(err, rc, code, "%s: %s", what, strerror(-rc));
	}
	return rc;
}

__attribute__((format(printf, 4, 5)))
int fail(struct netd_nl *nl, struct netd_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(nl, err, rc, fmt, ap);
	va_end(ap);
	return rc;
}

static int link_name_of(struct netd_nl *nl, int ifindex, char *buf, size_t len);

/* Like fail() for an operation on link `ifindex`, naming it: "set MTU 9000
 * of link veth0: ...". The name lookup happens only on this error path. */
__attribute__((format(printf, 5, 6)))
int fail_link(struct netd_nl *nl, struct netd_err *err, int rc, int ifindex, const char *fmt, ...)
{
	char what[400], name[IFNAMSIZ + 16], extack[sizeof(nl->extack)];
	va_list ap;

	if (!err || netd_err_isset(err))
		return rc;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	memcpy(extack, nl->extack, sizeof(extack));
	if (link_name_of(nl, ifindex, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "#%d", ifindex);
	memcpy(nl->extack, extack, sizeof(extack));
	return fail(nl, err, rc, "%s of link %s", what, name);
}

static int oom(struct netd_err *err, const char *what)
{
	return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "%s: out of memory", what);
}

/* ---- transport ------------------------------------------------------- */

static void read_extack(struct netd_nl *nl, void *attrs, int len)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	if (len <= 0 || nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, len, NULL) < 0 || !tb[NLMSGERR_ATTR_MSG])
		return;
	snprintf(nl->extack, sizeof(nl->extack), "%.*s", nla_len(tb[NLMSGERR_ATTR_MSG]),
		 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	/* the kernel's string is NUL-terminated inside the attribute */
	nl->extack[strnlen(nl->extack, sizeof(nl->extack))] = 0;
}

static int on_seq(struct nl_msg *msg, void *arg)
{
	struct netd_nl *nl = arg;

	/* A reply to an earlier request that was abandoned: not ours. */
	return nlmsg_hdr(msg)->nlmsg_seq == nl->seq ? NL_OK : NL_SKIP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct netd_nl *nl = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int rc;

	if (nl->parse) {
		rc = nl->parse(nlh, nl->parse_arg);
		/* Keep reading to the end of a dump even after a parse failure,
		 * so the socket holds nothing stale for the next request. */
		if (rc < 0 && !nl->parse_rc)
			nl->parse_rc = rc;
	}
	if (!(nlh->nlmsg_flags & NLM_F_MULTI))
		nl->done = true;	/* the single answer to a get */
	return NL_OK;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct netd_nl *nl = arg;

	(void)msg;
	nl->done = true;
	return NL_STOP;
}

static int on_finish(struct nl_msg *msg, void *arg)
{
	struct netd_nl *nl = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int *rc = nlmsg_data(nlh);

	nl->done = true;
	/* A dump that fails midway ends with NLMSG_DONE carrying -errno. */
	if (nlmsg_datalen(nlh) >= (int)sizeof(int) && *rc < 0) {
		nl->kerr = -*rc;
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
			read_extack(nl, (char *)rc + NLMSG_ALIGN(sizeof(int)),
				    nlmsg_datalen(nlh) - NLMSG_ALIGN(sizeof(int)));
	}
	return NL_STOP;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct netd_nl *nl = arg;
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	size_t off;

	(void)who;
	if (nlh->nlmsg_seq != nl->seq)
		return NL_SKIP;
	nl->kerr = -e->error;
	nl->done = true;
	/* libnl 3.7 does not read extended acks; they follow the (capped)
	 * copy of our request in the same message. */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		off = NLMSG_ALIGN(off);
		if ((int)off < nlmsg_datalen(nlh))
			read_extack(nl, (char *)e + off, nlmsg_datalen(nlh) - (int)off);
	}
	return NL_STOP;
}

/* Send msg (consumed), read until the answer is complete; parse() sees each
 * reply message. Returns 0 or -errno (kernel's, libnl's translated, or
 * parse()'s first failure). -EINTR = dump interrupted. */
static int xfer(struct netd_nl *nl, struct nl_msg *msg, parse_fn parse, void *arg)
{
	int rc;

	nl->done = false;
	nl->kerr = 0;
	nl->extack[0] = 0;
	nl->parse = parse;
	nl->parse_arg = arg;
	nl->parse_rc = 0;
	rc = nl_send_auto(nl->sk, msg);
	nl->seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	if (rc < 0)
		return nle2errno(rc);
	while (!nl->done) {
		rc = nl_recvmsgs(nl->sk, nl->cb);
		if (nl->kerr)
			return -nl->kerr;
		if (rc < 0)
			return nle2errno(rc);
	}
	if (nl->kerr)
		return -nl->kerr;
	return nl->parse_rc;
}


void *vec_push(struct vec *v)
{
	void *p;

	if (!(p = netd_grow(v->v, &v->cap, v->n, v->size, 16)))
		return NULL;
	v->v = p;
	p = (char *)v->v + v->n++ * v->size;
	memset(p, 0, v->size);
	return p;
}

/* The one place dumps happen. build() makes a fresh request each attempt;
 * an interrupted dump (the table changed while we read it) starts over
 * with an emptied vec. If it never holds still, -EAGAIN: a half-old,
 * half-new list would make CHECK report drift that is not there. */
int dump(struct netd_nl *nl, struct nl_msg *(*build)(const void *ctx), const void *ctx,
		parse_fn parse, struct vec *out)
{
	struct nl_msg *msg;
	int rc = -EINTR, i;

	for (i = 0; i < DUMP_ATTEMPTS && rc == -EINTR; i++) {
		if (i)
			nl->dump_retries++;
		out->n = 0;
		msg = build(ctx);
		if (!msg)
			return -ENOMEM;
		rc = xfer(nl, msg, parse, out);
	}
	if (rc == -EINTR) {
		snprintf(nl->extack, sizeof(nl->extack), "changed during %d reads in a row", DUMP_ATTEMPTS);
		rc = -EAGAIN;
	}
	return rc;
}

/* ---- open ------------------------------------------------------------ */

static int connect_fn(void *arg)
{
	struct nl_sock *sk = arg;
	int rc = nl_connect(sk, NETLINK_ROUTE);

	return rc < 0 ? nle2errno(rc) : 0;
}

int netd_nl_open(int nsfd, struct netd_nl **out, struct netd_err *err)
{
	struct netd_nl *nl;
	int one = 1, fd, rc;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return oom(err, "netlink socket");
	nl->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!nl->cb)
		goto nomem;
	nl->sk = nl_socket_alloc_cb(nl->cb);
	if (!nl->sk)
		goto nomem;
	nl_socket_disable_auto_ack(nl->sk);	/* we ask for acks where we mean to */
	nl_socket_enable_msg_peek(nl->sk);	/* large dump messages grow the buffer */
	nl_cb_set(nl->cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_seq, nl);
	nl_cb_set(nl->cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, nl);
	nl_cb_set(nl->cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, nl);
	nl_cb_set(nl->cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, nl);
	nl_cb_err(nl->cb, NL_CB_CUSTOM, on_error, nl);

	/* The socket belongs to the netns it is created in, for its whole life. */
	rc = netns_run(nsfd, connect_fn, nl->sk, err);
	if (rc < 0) {
		fail(NULL, err, rc, "open netlink socket");
		netd_nl_free(nl);
		return rc;
	}
	fd = nl_socket_get_fd(nl->sk);
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/* Lets the kernel filter address and route dumps by link and table. */
	setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	*out = nl;
	return 0;
nomem:
	netd_nl_free(nl);
	return oom(err, "netlink socket");
}

unsigned long netd_nl_dump_retries(const struct netd_nl *nl)
{
	return nl->dump_retries;
}

void netd_nl_free(struct netd_nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		nl_socket_free(nl->sk);
	if (nl->cb)
		nl_cb_put(nl->cb);
	free(nl);
}

/* ---- message helpers ------------------------------------------------- */

struct nl_msg *new_msg(int type, int flags, const void *hdr, size_t len)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_REQUEST | flags);

	if (m && nlmsg_append(m, (void *)hdr, len, NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

struct nl_msg *link_msg(int type, int flags, int family, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = family, .ifi_index = ifindex };

	return new_msg(type, flags, &ifi, sizeof(ifi));
}

static struct ifinfomsg *ifi_of(struct nl_msg *m)
{
	return nlmsg_data(nlmsg_hdr(m));
}

/* ---- links ----------------------------------------------------------- */

static void parse_linkinfo(struct nlattr *attr, struct netd_link *l)
{
	struct nlattr *li[IFLA_INFO_MAX + 1], *d[IFLA_VXLAN_MAX + 1];
	struct nlattr *sd[IFLA_BRPORT_MAX + 1];
	struct nlattr *bd[IFLA_BR_MAX + 1];

	if (nla_parse_nested(li, IFLA_INFO_MAX, attr, NULL) < 0)
		return;
	if (li[IFLA_INFO_KIND])
		snprintf(l->kind, sizeof(l->kind), "%s", (char *)nla_data(li[IFLA_INFO_KIND]));
	if (li[IFLA_INFO_DATA] && !strcmp(l->kind, "bridge") &&
	    nla_parse_nested(bd, IFLA_BR_MAX, li[IFLA_INFO_DATA], NULL) == 0 && bd[IFLA_BR_VLAN_FILTERING])
		l->vlan_filtering = nla_get_u8(bd[IFLA_BR_VLAN_FILTERING]);
	if (li[IFLA_INFO_DATA] && !strcmp(l->kind, "vxlan") &&
	    nla_parse_nested(d, IFLA_VXLAN_MAX, li[IFLA_INFO_DATA], NULL) == 0 && d[IFLA_VXLAN_ID])
		l->vni = nla_get_u32(d[IFLA_VXLAN_ID]);
	if (li[IFLA_INFO_SLAVE_KIND] && !strcmp(nla_data(li[IFLA_INFO_SLAVE_KIND]), "bridge") &&
	    li[IFLA_INFO_SLAVE_DATA] &&
	    nla_parse_nested(sd, IFLA_BRPORT_MAX, li[IFLA_INFO_SLAVE_DATA], NULL) == 0 &&
	    sd[IFLA_BRPORT_MODE])
		l->hairpin = nla_get_u8(sd[IFLA_BRPORT_MODE]);
}

int parse_link(struct nlmsghdr *nlh, struct netd_link *l)
{
	struct ifinfomsg *ifi = nlmsg_data(nlh);
	struct nlattr *tb[IFLA_MAX + 1];

	if (nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return -EBADMSG;
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->up = ifi->ifi_flags & IFF_UP;
	l->promisc = ifi->ifi_flags & IFF_PROMISC;
	l->link_netnsid = -1;
	if (tb[IFLA_IFNAME])
		snprintf(l->name, sizeof(l->name), "%s", (char *)nla_data(tb[IFLA_IFNAME]));
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6)
		memcpy(l->mac, nla_data(tb[IFLA_ADDRESS]), 6);
	if (tb[IFLA_MTU])
		l->mtu = nla_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_MASTER])
		l->master = nla_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINK])
		l->link = nla_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_LINK_NETNSID])
		l->link_netnsid = nla_get_s32(tb[IFLA_LINK_NETNSID]);
	if (tb[IFLA_IFALIAS])
		snprintf(l->alias, sizeof(l->alias), "%.*s", nla_len(tb[IFLA_IFALIAS]),
			 (char *)nla_data(tb[IFLA_IFALIAS]));
	if (tb[IFLA_LINKINFO])
		parse_linkinfo(tb[IFLA_LINKINFO], l);
	return 0;
}

static int parse_one_link(struct nlmsghdr *nlh, void *arg)
{
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	return parse_link(nlh, arg);
}

static int link_get(struct netd_nl *nl, const char *name, int ifindex, struct netd_link *out)
{
	struct nl_msg *m = link_msg(RTM_GETLINK, 0, AF_UNSPEC, ifindex);

	if (!m)
		return -ENOMEM;
	if ((name && nla_put_string(m, IFLA_IFNAME, name) < 0) ||
	    nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	out->ifindex = 0;
	return xfer(nl, m, parse_one_link, out);
}

static int link_name_of(struct netd_nl *nl, int ifindex, char *buf, size_t len)
{
	struct netd_link l;
	int rc = link_get(nl, NULL, ifindex, &l);

	if (rc < 0)
		return rc;
	snprintf(buf, len, "%s", l.name);
	return 0;
}

int netd_nl_link_get(struct netd_nl *nl, const char *name, struct netd_link *out, struct netd_err *err)
{
	int rc;

	if (!netd_ifname_valid(name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid interface name \"%s\"",
				    name ? name : "");
	rc = link_get(nl, name, 0, out);
	if (rc == -ENODEV)
		return rc;
	if (rc < 0)
		return fail(nl, err, rc, "get link %s", name);
	return 0;
}

int netd_nl_link_get_index(struct netd_nl *nl, int ifindex, struct netd_link *out, struct netd_err *err)
{
	int rc;

	if (ifindex <= 0)
		return -ENODEV;
	rc = link_get(nl, NULL, ifindex, out);
	if (rc == -ENODEV)
		return rc;
	if (rc < 0)
		return fail(nl, err, rc, "get link #%d", ifindex);
	return 0;
}

static int parse_link_vec(struct nlmsghdr *nlh, void *arg)
{
	struct netd_link *l;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	l = vec_push(arg);
	if (!l)
		return -ENOMEM;
	return parse_link(nlh, l);
}

static struct nl_msg *build_link_dump(const void *ctx)
{
	struct nl_msg *m = link_msg(RTM_GETLINK, NLM_F_DUMP, AF_UNSPEC, 0);

	(void)ctx;
	if (m && nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

int netd_nl_link_list(struct netd_nl *nl, struct netd_link **out, size_t *n, struct netd_err *err)
{
	struct vec v = { .size = sizeof(struct netd_link) };
	int rc = dump(nl, build_link_dump, NULL, parse_link_vec, &v);

	if (rc < 0) {
		free(v.v);
		return fail(nl, err, rc, "list links");
	}
	*out = v.v;
	*n = v.n;
	return 0;
}

/* Send a change request, with an ack. */
int change(struct netd_nl *nl, struct nl_msg *m)
{
	if (!m)
		return -ENOMEM;
	nlmsg_hdr(m)->nlmsg_flags |= NLM_F_ACK;
	return xfer(nl, m, NULL, NULL);
}

int netd_nl_link_del(struct netd_nl *nl, int ifindex, struct netd_err *err)
{
	int rc = change(nl, link_msg(RTM_DELLINK, 0, AF_UNSPEC, ifindex));

	if (rc < 0 && rc != -ENODEV)
		return fail(nl, err, rc, "delete link #%d", ifindex);
	return rc;
}

static int set_flag(struct netd_nl *nl, int ifindex, unsigned flag, bool on)
{
	struct nl_msg *m = link_msg(RTM_NEWLINK, 0, AF_UNSPEC, ifindex);

	if (m) {
		ifi_of(m)->ifi_change = flag;
		ifi_of(m)->ifi_flags = on ? flag : 0;
	}
	return change(nl, m);
}

int netd_nl_link_set_up(struct netd_nl *nl, int ifindex, bool up, struct netd_err *err)
{
	int rc = set_flag(nl, ifindex, IFF_UP, up);

	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set %s", up ? "up" : "down") : 0;
}

int netd_nl_link_set_promisc(struct netd_nl *nl, int ifindex, bool on, struct netd_err *err)
{
	int rc = set_flag(nl, ifindex, IFF_PROMISC, on);

	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set promisc %s", on ? "on" : "off") : 0;
}

/* RTM_NEWLINK on an existing link with one attribute. */
static int set_attr(struct netd_nl *nl, int ifindex, int type, const void *data, int len)
{
	struct nl_msg *m = link_msg(RTM_NEWLINK, 0, AF_UNSPEC, ifindex);

	if (m && nla_put(m, type, len, data) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return change(nl, m);
}

int netd_nl_link_set_mtu(struct netd_nl *nl, int ifindex, int mtu, struct netd_err *err)
{
	uint32_t v = mtu;
	int rc = set_attr(nl, ifindex, IFLA_MTU, &v, sizeof(v));

	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set MTU %d", mtu) : 0;
}

int netd_nl_link_set_mac(struct netd_nl *nl, int ifindex, const uint8_t mac[6], struct netd_err *err)
{
	char buf[18];
	int rc = set_attr(nl, ifindex, IFLA_ADDRESS, mac, 6);

	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set MAC %s", netd_mac_str(mac, buf)) : 0;
}

int netd_nl_link_set_master(struct netd_nl *nl, int ifindex, int master, struct netd_err *err)
{
	uint32_t v = master;
	char name[IFNAMSIZ + 16];
	int rc = set_attr(nl, ifindex, IFLA_MASTER, &v, sizeof(v));

	if (rc >= 0)
		return 0;
	if (!master)
		return fail_link(nl, err, rc, ifindex, "release from master");
	if (link_name_of(nl, master, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "#%d", master);
	return fail_link(nl, err, rc, ifindex, "attach to %s", name);
}

int netd_nl_link_set_name(struct netd_nl *nl, int ifindex, const char *name, struct netd_err *err)
{
	int rc;

	if (!netd_ifname_valid(name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid interface name \"%s\"",
				    name ? name : "");
	rc = set_attr(nl, ifindex, IFLA_IFNAME, name, strlen(name) + 1);
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "rename to %s", name) : 0;
}

int netd_nl_link_set_alias(struct netd_nl *nl, int ifindex, const char *alias, struct netd_err *err)
{
	/* An empty alias attribute removes the alias. */
	int rc = set_attr(nl, ifindex, IFLA_IFALIAS, alias ? alias : "", alias ? strlen(alias) : 0);

	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set alias") : 0;
}

int netd_nl_link_move(struct netd_nl *nl, int ifindex, int nsfd, const char *new_name, struct netd_err *err)
{
	struct nl_msg *m;
	int rc;

	if (new_name && !netd_ifname_valid(new_name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid interface name \"%s\"",
				    new_name);
	/* The kernel moves first and renames after, and uses IFLA_IFNAME as the
	 * name to move under only when the current name clashes in the target:
	 * if new_name is taken there, the link would end up moved under its old
	 * name with EEXIST. Look in the target first (a socket there costs far
	 * less than cleaning up after that). */
	if (new_name) {
		struct netd_nl *tnl;
		struct netd_link l;

		rc = netd_nl_open(nsfd, &tnl, err);
		if (rc < 0)
			return rc;
		rc = link_get(tnl, new_name, 0, &l);
		netd_nl_free(tnl);
		if (rc == 0)
			return fail_link(nl, err, -EEXIST, ifindex,
					 "move as %s to another netns (name taken there)", new_name);
		if (rc != -ENODEV)
			return fail_link(nl, err, rc, ifindex, "look up %s in target netns", new_name);
	}
	m = link_msg(RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	if (m && (nla_put_s32(m, IFLA_NET_NS_FD, nsfd) < 0 ||
		  (new_name && nla_put_string(m, IFLA_IFNAME, new_name) < 0))) {
		nlmsg_free(m);
		m = NULL;
	}
	rc = change(nl, m);
	if (rc < 0)
		return fail_link(nl, err, rc, ifindex, "move%s%s to another netns", new_name ? " as " : "",
				 new_name ? new_name : "");
	return 0;
}

/* IFLA_LINKINFO { KIND kind, DATA { ... } }: returns the DATA nest to fill
 * (end it, then the outer one). */
static struct nlattr *linkinfo_start(struct nl_msg *m, const char *kind, struct nlattr **outer)
{
	*outer = nla_nest_start(m, IFLA_LINKINFO);
	if (!*outer || nla_put_string(m, IFLA_INFO_KIND, kind) < 0)
		return NULL;
	return nla_nest_start(m, IFLA_INFO_DATA);
}

static struct nl_msg *bridge_msg(const char *name, int ifindex, const struct netd_bridge_opts *o)
{
	struct nlattr *li, *data;
	struct nl_msg *m;

	if (ifindex)
		m = link_msg(RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	else
		m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	if (!m)
		return NULL;
	if (!ifindex) {
		ifi_of(m)->ifi_change = IFF_UP;
		ifi_of(m)->ifi_flags = IFF_UP;
		if (nla_put_string(m, IFLA_IFNAME, name) < 0 ||
		    (o->mtu && nla_put_u32(m, IFLA_MTU, o->mtu) < 0) ||
		    (o->mac && nla_put(m, IFLA_ADDRESS, 6, o->mac) < 0))
			goto bad;
	}
	/* IFLA_BR_VLAN_FILTERING only when asked for: a kernel built without
	 * CONFIG_BRIDGE_VLAN_FILTERING refuses the attribute even as 0. */
	data = linkinfo_start(m, "bridge", &li);
	if (!data || (o->vlan_filtering && nla_put_u8(m, IFLA_BR_VLAN_FILTERING, 1) < 0))
		goto bad;
	nla_nest_end(m, data);
	nla_nest_end(m, li);
	return m;
bad:
	nlmsg_free(m);
	return NULL;
}

int netd_nl_bridge_ensure(struct netd_nl *nl, const char *name, struct netd_bridge_opts *o,
			  struct netd_link *out, struct netd_err *err)
{
	struct netd_bridge_opts defaults = {0};
	struct netd_link l;
	int rc, tries;

	if (!netd_ifname_valid(name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid bridge name \"%s\"",
				    name ? name : "");
	if (!o)
		o = &defaults;
	o->created = false;
	/* Look first: in steady state the bridge exists and one get is all. */
	for (tries = 0; tries < 2; tries++) {
		rc = link_get(nl, name, 0, &l);
		if (rc == 0)
			break;
		if (rc != -ENODEV)
			return fail(nl, err, rc, "get bridge %s", name);
		rc = change(nl, bridge_msg(name, 0, o));
		if (rc == -EEXIST)
			continue;	/* someone else just made it: look again */
		if (rc < 0)
			return fail(nl, err, rc, "create bridge %s", name);
		o->created = true;
		if (o->no_dad) {
			char key[64];

			snprintf(key, sizeof(key), "net/ipv6/conf/%s/accept_dad", name);
			netns_sysctl_set(-1, key, "0", NULL);
		}
	}
	if (rc < 0)
		return fail(nl, err, rc, "get bridge %s", name);
	if (strcmp(l.kind, "bridge"))
		return netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
				    "link %s exists and is not a bridge (it is %s%s)", name,
				    l.kind[0] ? "a " : "a device of no kind", l.kind);
	if (o->vlan_filtering && !l.vlan_filtering) {
		rc = change(nl, bridge_msg(name, l.ifindex, o));
		if (rc < 0)
			return fail(nl, err, rc, "enable VLAN filtering on bridge %s", name);
		l.vlan_filtering = true;
	}
	if (!l.up) {
		rc = set_flag(nl, l.ifindex, IFF_UP, true);
		if (rc < 0)
			return fail(nl, err, rc, "set bridge %s up", name);
		l.up = true;
	}
	if (out)
		*out = l;
	return 0;
}

int netd_nl_veth_create(struct netd_nl *nl, const struct netd_veth_opts *o, struct netd_err *err)
{
	struct ifinfomsg peer = { .ifi_family = AF_UNSPEC };
	struct nlattr *li, *data, *pn;
	struct nl_msg *m;
	int rc;

	if ((o->host_name && !netd_ifname_valid(o->host_name)) || !netd_ifname_valid(o->peer_name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid veth names \"%s\"/\"%s\"",
				    o->host_name ? o->host_name : "", o->peer_name ? o->peer_name : "");
	m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	if (!m)
		return oom(err, "create veth");
	/* Only the host end can come up in the creating request: the kernel
	 * registers and configures the peer first, before it has a peer of its
	 * own, and opening it then fails with ENOTCONN. */
	if (o->up) {
		ifi_of(m)->ifi_change = IFF_UP;
		ifi_of(m)->ifi_flags = IFF_UP;
	}
	if ((o->host_name && nla_put_string(m, IFLA_IFNAME, o->host_name) < 0) ||
	    (o->mtu && nla_put_u32(m, IFLA_MTU, o->mtu) < 0) ||
	    (o->host_mac && nla_put(m, IFLA_ADDRESS, 6, o->host_mac) < 0) ||
	    (o->master && nla_put_u32(m, IFLA_MASTER, o->master) < 0))
		goto bad;
	data = linkinfo_start(m, "veth", &li);
	if (!data)
		goto bad;
	/* The peer is a whole ifinfomsg + attributes inside VETH_INFO_PEER. */
	pn = nla_nest_start(m, VETH_INFO_PEER);
	if (!pn || nlmsg_append(m, &peer, sizeof(peer), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(m, IFLA_IFNAME, o->peer_name) < 0 ||
	    (o->peer_nsfd >= 0 && nla_put_s32(m, IFLA_NET_NS_FD, o->peer_nsfd) < 0) ||
	    (o->mtu && nla_put_u32(m, IFLA_MTU, o->mtu) < 0) ||
	    (o->peer_mac && nla_put(m, IFLA_ADDRESS, 6, o->peer_mac) < 0))
		goto bad;
	nla_nest_end(m, pn);
	nla_nest_end(m, data);
	nla_nest_end(m, li);
	rc = change(nl, m);
	if (rc < 0)
		return fail(nl, err, rc, "create veth pair %s/%s", o->host_name ? o->host_name : "(auto)",
			    o->peer_name);
	return 0;
bad:
	nlmsg_free(m);
	return oom(err, "create veth");
}

int netd_nl_macvlan_create(struct netd_nl *nl, const struct netd_macvlan_opts *o, struct netd_err *err)
{
	static const uint32_t modes[] = {
		[NETD_MACVLAN_BRIDGE] = MACVLAN_MODE_BRIDGE, [NETD_MACVLAN_PRIVATE] = MACVLAN_MODE_PRIVATE,
		[NETD_MACVLAN_VEPA] = MACVLAN_MODE_VEPA, [NETD_MACVLAN_PASSTHRU] = MACVLAN_MODE_PASSTHRU,
	};
	struct nlattr *li, *data;
	struct nl_msg *m;
	int rc;

	if (!netd_ifname_valid(o->name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid macvlan name \"%s\"",
				    o->name ? o->name : "");
	if ((unsigned)o->mode >= sizeof(modes) / sizeof(modes[0]))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid macvlan mode %d", o->mode);
	m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	if (!m)
		return oom(err, "create macvlan");
	/* Created straight in the target netns under its final name: the
	 * kernel looks the parent up in ours (the request's netns). */
	if (nla_put_string(m, IFLA_IFNAME, o->name) < 0 || nla_put_u32(m, IFLA_LINK, o->parent) < 0 ||
	    (o->target_nsfd >= 0 && nla_put_s32(m, IFLA_NET_NS_FD, o->target_nsfd) < 0) ||
	    (o->mtu && nla_put_u32(m, IFLA_MTU, o->mtu) < 0) ||
	    (o->mac && nla_put(m, IFLA_ADDRESS, 6, o->mac) < 0))
		goto bad;
	data = linkinfo_start(m, "macvlan", &li);
	if (!data || nla_put_u32(m, IFLA_MACVLAN_MODE, modes[o->mode]) < 0)
		goto bad;
	nla_nest_end(m, data);
	nla_nest_end(m, li);
	rc = change(nl, m);
	if (rc < 0)
		return fail_link(nl, err, rc, o->parent, "create macvlan %s", o->name);
	return 0;
bad:
	nlmsg_free(m);
	return oom(err, "create macvlan");
}

int netd_nl_vxlan_create(struct netd_nl *nl, const struct netd_vxlan_opts *o, struct netd_err *err)
{
	struct nlattr *li, *data;
	struct netd_link l;
	struct nl_msg *m;
	int rc;

	if (!netd_ifname_valid(o->name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid vxlan name \"%s\"",
				    o->name ? o->name : "");
	m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	if (!m)
		return oom(err, "create vxlan");
	if (nla_put_string(m, IFLA_IFNAME, o->name) < 0 || (o->mtu && nla_put_u32(m, IFLA_MTU, o->mtu) < 0))
		goto bad;
	data = linkinfo_start(m, "vxlan", &li);
	if (!data || nla_put_u32(m, IFLA_VXLAN_ID, o->vni) < 0 ||
	    nla_put_u16(m, IFLA_VXLAN_PORT, htons(o->port ? o->port : 4789)) < 0 ||
	    nla_put_u8(m, IFLA_VXLAN_LEARNING, o->learning) < 0 ||
	    (o->dev && nla_put_u32(m, IFLA_VXLAN_LINK, o->dev) < 0) ||
	    (o->local.family == AF_INET && nla_put(m, IFLA_VXLAN_LOCAL, 4, &o->local.v4) < 0) ||
	    (o->local.family == AF_INET6 && nla_put(m, IFLA_VXLAN_LOCAL6, 16, &o->local.v6) < 0))
		goto bad;
	nla_nest_end(m, data);
	nla_nest_end(m, li);
	rc = change(nl, m);
	if (rc == -EEXIST && link_get(nl, o->name, 0, &l) == 0 && !strcmp(l.kind, "vxlan") && l.vni == o->vni)
		return 0;	/* ensure-style: same name, same VNI */
	if (rc < 0)
		return fail(nl, err, rc, "create vxlan %s (VNI %u)", o->name, o->vni);
	return 0;
bad:
	nlmsg_free(m);
	return oom(err, "create vxlan");
}

int netd_nl_brport_set_hairpin(struct netd_nl *nl, int ifindex, bool on, struct netd_err *err)
{
	struct nl_msg *m = link_msg(RTM_SETLINK, 0, AF_BRIDGE, ifindex);
	struct nlattr *pi;
	int rc;

	/* NLA_F_NESTED tells the bridge this is the IFLA_BRPORT_* form, not
	 * the old single-byte port state. */
	if (m && (!(pi = nla_nest_start(m, IFLA_PROTINFO | NLA_F_NESTED)) ||
		  nla_put_u8(m, IFLA_BRPORT_MODE, on) < 0)) {
		nlmsg_free(m);
		m = NULL;
	} else if (m) {
		nla_nest_end(m, pi);
	}
	rc = change(nl, m);

	return rc < 0 ? fail_link(nl, err, rc, ifindex, "set hairpin %s", on ? "on" : "off") : 0;
}

int netd_nl_bridge_vlan_add(struct netd_nl *nl, int ifindex, uint16_t vid, bool pvid, bool untagged,
			    bool self, struct netd_err *err)
{
	struct bridge_vlan_info vi = { .vid = vid };
	struct nl_msg *m;
	struct nlattr *af;
	int rc;

	if (vid < 1 || vid > 4094)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid VLAN id %u", vid);
	if (pvid)
		vi.flags |= BRIDGE_VLAN_INFO_PVID;
	if (untagged)
		vi.flags |= BRIDGE_VLAN_INFO_UNTAGGED;
	m = link_msg(RTM_SETLINK, 0, AF_BRIDGE, ifindex);
	if (m && (!(af = nla_nest_start(m, IFLA_AF_SPEC)) ||
		  (self && nla_put_u16(m, IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF) < 0) ||
		  nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi) < 0)) {
		nlmsg_free(m);
		m = NULL;
	} else if (m) {
		nla_nest_end(m, af);
	}
	rc = change(nl, m);
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "add VLAN %u", vid) : 0;
}

/* ---- addresses ------------------------------------------------------- */

static struct nl_msg *addr_msg(int type, int flags, int ifindex, const struct netd_prefix *p, bool nodad)
{
	struct ifaddrmsg ifa = {
		.ifa_family = p->addr.family,
		.ifa_prefixlen = p->len,
		.ifa_index = ifindex,
	};
	struct nl_msg *m;
	int alen = netd_addr_len(&p->addr);

	if (nodad && p->addr.family == AF_INET6)
		ifa.ifa_flags = IFA_F_NODAD;
	m = new_msg(type, flags, &ifa, sizeof(ifa));
	if (!m)
		return NULL;
	if (nla_put(m, IFA_LOCAL, alen, p->addr.b) < 0 || nla_put(m, IFA_ADDRESS, alen, p->addr.b) < 0)
		goto bad;
	/* `ip addr add ... brd +` and the reference plugins set the broadcast
	 * address; without it broadcasts to the subnet go nowhere. */
	if (type == RTM_NEWADDR && p->addr.family == AF_INET && p->len < 31) {
		struct netd_addr brd = netd_prefix_last(p);

		if (nla_put(m, IFA_BROADCAST, 4, brd.b) < 0)
			goto bad;
	}
	return m;
bad:
	nlmsg_free(m);
	return NULL;
}

bool family_ok(int family)
{
	return family == AF_INET || family == AF_INET6;
}

int netd_nl_addr_add(struct netd_nl *nl, int ifindex, const struct netd_prefix *p, bool nodad,
		     struct netd_err *err)
{
	char buf[NETD_PREFIX_STRLEN];
	int rc;

	if (!family_ok(p->addr.family) || p->len > netd_addr_bits(&p->addr))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid address to add");
	rc = change(nl, addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, p, nodad));
	if (rc == -EEXIST)
		return 0;
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "add address %s", netd_prefix_str(p, buf)) : 0;
}

int netd_nl_addr_del(struct netd_nl *nl, int ifindex, const struct netd_prefix *p, struct netd_err *err)
{
	char buf[NETD_PREFIX_STRLEN];
	int rc;

	if (!family_ok(p->addr.family) || p->len > netd_addr_bits(&p->addr))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid address to delete");
	rc = change(nl, addr_msg(RTM_DELADDR, 0, ifindex, p, false));
	if (rc == -EADDRNOTAVAIL || rc == -ENODEV)
		return rc;
	return rc < 0 ? fail_link(nl, err, rc, ifindex, "delete address %s", netd_prefix_str(p, buf)) : 0;
}

struct addr_filter {
	int ifindex, family;
};

static struct nl_msg *build_addr_dump(const void *ctx)
{
	const struct addr_filter *f = ctx;
	struct ifaddrmsg ifa = { .ifa_family = f->family, .ifa_index = f->ifindex };

	return new_msg(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
}

static int parse_addr(struct nlmsghdr *nlh, void *arg)
{
	struct vec *v = arg;
	const struct addr_filter *f = v->filter;
	struct ifaddrmsg *ifa = nlmsg_data(nlh);
	struct nlattr *tb[IFA_MAX + 1], *a;
	struct netd_prefix *p;

	if (nlh->nlmsg_type != RTM_NEWADDR || nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return 0;
	/* The kernel filters already (strict checking); this guards older ones. */
	if ((f->ifindex && (int)ifa->ifa_index != f->ifindex) ||
	    (f->family && ifa->ifa_family != f->family) || !family_ok(ifa->ifa_family))
		return 0;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's
	 * on point-to-point links, and the only one for IPv6. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || nla_len(a) != (ifa->ifa_family == AF_INET ? 4 : 16))
		return 0;
	p = vec_push(v);
	if (!p)
		return -ENOMEM;
	p->addr.family = ifa->ifa_family;
	memcpy(p->addr.b, nla_data(a), nla_len(a));
	p->len = ifa->ifa_prefixlen;
	return 0;
}

int netd_nl_addr_list(struct netd_nl *nl, int ifindex, int family, struct netd_prefix **out, size_t *n,
		      struct netd_err *err)
{
	struct addr_filter f = { ifindex, family };
	struct vec v = { .size = sizeof(struct netd_prefix), .filter = &f };
	int rc = dump(nl, build_addr_dump, &f, parse_addr, &v);

	if (rc < 0) {
		free(v.v);
		if (ifindex)
			return fail_link(nl, err, rc, ifindex, "list addresses");
		return fail(nl, err, rc, "list addresses");
	}
	*out = v.v;
	*n = v.n;
	return 0;
}

struct owner_find {
	struct netd_addr a;
	int ifindex;
};

static int parse_addr_owner(struct nlmsghdr *nlh, void *arg)
{
	struct vec *v = arg;
	struct owner_find *f = v->filter;
	struct ifaddrmsg *ifa = nlmsg_data(nlh);
	struct nlattr *tb[IFA_MAX + 1], *a;

	if (nlh->nlmsg_type != RTM_NEWADDR || nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MAX, NULL) < 0 ||
	    ifa->ifa_family != f->a.family || f->ifindex)
		return 0;
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (a && (size_t)nla_len(a) == netd_addr_len(&f->a) && !memcmp(nla_data(a), f->a.b, nla_len(a)))
		f->ifindex = (int)ifa->ifa_index;
	return 0;
}

int netd_nl_addr_owner(struct netd_nl *nl, const struct netd_addr *a, struct netd_err *err)
{
	struct addr_filter af = { 0, a->family };
	struct owner_find f = { .a = *a };
	struct vec v = { .size = 1, .filter = &f };
	int rc;

	if (!family_ok(a->family))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "address owner: no address");
	rc = dump(nl, build_addr_dump, &af, parse_addr_owner, &v);
	free(v.v);
	if (rc < 0)
		return fail(nl, err, rc, "list addresses");
	return f.ifindex ? f.ifindex : -EADDRNOTAVAIL;
}

/* ---- routes ---------------------------------------------------------- */

static const char *route_str(const struct netd_route *r, char *buf, size_t len)
{
	char d[NETD_PREFIX_STRLEN], g[NETD_ADDR_STRLEN];

	if (r->dst.len == 0)
		snprintf(d, sizeof(d), "default");
	else
		netd_prefix_str(&r->dst, d);
	if (r->gw.family)
		snprintf(buf, len, "%s via %s", d, netd_addr_str(&r->gw, g));
	else
		snprintf(buf, len, "%s", d);
	return buf;
}

static struct nl_msg *route_msg(int type, int flags, const struct netd_route *r)
{
	int table = r->table ? r->table : RT_TABLE_MAIN;
	struct rtmsg rtm = {
		.rtm_family = r->dst.addr.family,
		.rtm_dst_len = r->dst.len,
		.rtm_table = table < 256 ? table : RT_TABLE_UNSPEC,
	};
	int alen = r->dst.addr.family == AF_INET ? 4 : 16;
	struct nlattr *mx;
	struct nl_msg *m;

	if (type == RTM_NEWROUTE) {
		rtm.rtm_protocol = RTPROT_BOOT;
		rtm.rtm_type = RTN_UNICAST;
		if (r->scope >= 0)
			rtm.rtm_scope = r->scope;
		else
			rtm.rtm_scope = r->gw.family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	} else {
		rtm.rtm_scope = RT_SCOPE_NOWHERE;	/* delete: match any scope */
	}
	m = new_msg(type, flags, &rtm, sizeof(rtm));
	if (!m)
		return NULL;
	if ((table >= 256 && nla_put_u32(m, RTA_TABLE, table) < 0) ||
	    (r->dst.len && nla_put(m, RTA_DST, alen, r->dst.addr.b) < 0) ||
	    (r->gw.family && nla_put(m, RTA_GATEWAY, netd_addr_len(&r->gw), r->gw.b) < 0) ||
	    (r->ifindex && nla_put_u32(m, RTA_OIF, r->ifindex) < 0) ||
	    (r->metric && nla_put_u32(m, RTA_PRIORITY, r->metric) < 0))
		goto bad;
	if (type == RTM_NEWROUTE && (r->mtu || r->advmss)) {
		mx = nla_nest_start(m, RTA_METRICS);
		if (!mx || (r->mtu && nla_put_u32(m, RTAX_MTU, r->mtu) < 0) ||
		    (r->advmss && nla_put_u32(m, RTAX_ADVMSS, r->advmss) < 0))
			goto bad;
		nla_nest_end(m, mx);
	}
	return m;
bad:
	nlmsg_free(m);
	return NULL;
}

static int route_check(const struct netd_route *r, struct netd_err *err)
{
	if (!family_ok(r->dst.addr.family) || r->dst.len > netd_addr_bits(&r->dst.addr) ||
	    (r->gw.family && r->gw.family != r->dst.addr.family))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "invalid route");
	return 0;
}

int netd_nl_route_add(struct netd_nl *nl, const struct netd_route *r, struct netd_err *err)
{
	char buf[160];
	int rc = route_check(r, err);

	if (rc < 0)
		return rc;
	rc = change(nl, route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r));
	if (rc < 0 && r->ifindex)
		return fail_link(nl, err, rc, r->ifindex, "add route %s", route_str(r, buf, sizeof(buf)));
	return rc < 0 ? fail(nl, err, rc, "add route %s", route_str(r, buf, sizeof(buf))) : 0;
}

int netd_nl_route_del(struct netd_nl *nl, const struct netd_route *r, struct netd_err *err)
{
	char buf[160];
	int rc = route_check(r, err);

	if (rc < 0)
		return rc;
	rc = change(nl, route_msg(RTM_DELROUTE, 0, r));
	if (rc == -ESRCH || rc == -ENODEV)
		return -ESRCH;
	return rc < 0 ? fail(nl, err, rc, "delete route %s", route_str(r, buf, sizeof(buf))) : 0;
}

struct route_filter {
	int family, table;
};

static struct nl_msg *build_route_dump(const void *ctx)
{
	const struct route_filter *f = ctx;
	struct rtmsg rtm = {
		.rtm_family = f->family,
		.rtm_table = f->table < 256 ? f->table : RT_TABLE_UNSPEC,
	};
	struct nl_msg *m = new_msg(RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof(rtm));

	if (m && f->table >= 256 && nla_put_u32(m, RTA_TABLE, f->table) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

static int parse_route(struct nlmsghdr *nlh, void *arg)
{
	struct vec *v = arg;
	const struct route_filter *f = v->filter;
	struct rtmsg *rtm = nlmsg_data(nlh);
	struct nlattr *tb[RTA_MAX + 1], *mx[RTAX_MAX + 1];
	struct netd_route *r;
	int alen, table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlmsg_parse(nlh, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return 0;
	table = tb[RTA_TABLE] ? (int)nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (rtm->rtm_family != f->family || table != f->table || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	alen = f->family == AF_INET ? 4 : 16;
	r = vec_push(v);
	if (!r)
		return -ENOMEM;
	r->dst.addr.family = f->family;
	r->dst.len = rtm->rtm_dst_len;
	if (tb[RTA_DST] && nla_len(tb[RTA_DST]) == alen)
		memcpy(r->dst.addr.b, nla_data(tb[RTA_DST]), alen);
	if (tb[RTA_GATEWAY] && nla_len(tb[RTA_GATEWAY]) == alen) {
		r->gw.family = f->family;
		memcpy(r->gw.b, nla_data(tb[RTA_GATEWAY]), alen);
	}
	if (tb[RTA_OIF])
		r->ifindex = nla_get_u32(tb[RTA_OIF]);
	if (tb[RTA_PRIORITY])
		r->metric = nla_get_u32(tb[RTA_PRIORITY]);
	r->table = table == RT_TABLE_MAIN ? 0 : table;
	r->scope = rtm->rtm_scope;
	r->protocol = rtm->rtm_protocol;
	if (tb[RTA_METRICS] && nla_parse_nested(mx, RTAX_MAX, tb[RTA_METRICS], NULL) == 0) {
		if (mx[RTAX_MTU])
			r->mtu = nla_get_u32(mx[RTAX_MTU]);
		if (mx[RTAX_ADVMSS])
			r->advmss = nla_get_u32(mx[RTAX_ADVMSS]);
	}
	return 0;
}

int netd_nl_route_list(struct netd_nl *nl, int family, int table, struct netd_route **out, size_t *n,
		       struct netd_err *err)
{
	struct route_filter f = { family, table ? table : RT_TABLE_MAIN };
	struct vec v = { .size = sizeof(struct netd_route), .filter = &f };
	int rc;

	if (!family_ok(family))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "list routes: family %d", family);
	rc = dump(nl, build_route_dump, &f, parse_route, &v);
	if (rc == -ENOENT) {	/* that table does not exist (yet): no routes */
		v.n = 0;
		rc = 0;
	}
	if (rc < 0) {
		free(v.v);
		return fail(nl, err, rc, "list %s routes in table %d", family == AF_INET ? "IPv4" : "IPv6",
			    f.table);
	}
	*out = v.v;
	*n = v.n;
	return 0;
}

int netd_nl_default_route_link(struct netd_nl *nl, int family, struct netd_err *err)
{
	int fams[2] = { AF_INET, AF_INET6 }, nf = 2, i, best = -1, rc;
	uint32_t best_metric = UINT32_MAX;
	struct netd_route *r = NULL;
	size_t n = 0, j;

	if (family) {
		fams[0] = family;
		nf = 1;
	}
	for (i = 0; i < nf && best < 0; i++) {
		rc = netd_nl_route_list(nl, fams[i], 0, &r, &n, err);
		if (rc < 0)
			return rc;
		for (j = 0; j < n; j++)
			if (r[j].dst.len == 0 && r[j].ifindex > 0 && (uint32_t)r[j].metric < best_metric) {
				best = r[j].ifindex;
				best_metric = r[j].metric;
			}
		free(r);
	}
	if (best < 0)
		return netd_err_set(err, -ENETUNREACH, CNI_ERR_INVALID_CONFIG,
				    "no %sdefault route to pick a link from",
				    family == AF_INET ? "IPv4 " : family == AF_INET6 ? "IPv6 " : "");
	return best;
}
