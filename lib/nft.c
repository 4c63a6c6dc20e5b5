/* nft.c — masquerade for container addresses in table `inet netd_cni`.
 *
 * Everything here is libnftnl objects serialised into one nfnetlink batch per
 * change and sent with libmnl. Reads (one element GET, or element dumps of
 * our four sets) happen under the flock, before the batch, so a decision
 * such as "this address belongs to another owner" cannot go stale.
 *
 * Why two sets per family: a rule "saddr in {container addresses} and daddr
 * not in that container's subnet" needs the subnet per address. The
 * concatenated interval set masqX_local (addr . subnet-range) answers "is
 * this traffic local to the container's own subnet" in one lookup, and masqX
 * (addr) says "masquerade the rest". Lookup cost is flat in the number of
 * containers; the rules never change after the table is created.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "netd/nft.h"
#include "netd/util.h"

#define CHAIN "postrouting"
#define NAT_PRIO 100		/* srcnat */
#define RECV_BUF (64 * 1024)
#define ELEMS_PER_MSG 200	/* keeps one message far below netlink limits */
#define DUMP_RETRIES 5
#define RELEASE_QUIET_NS 60000000LL	/* > an RCU grace period, normally */
#define RELEASE_LINGER_MAX_NS 500000000LL
#define RELEASE_WINDOW_NS 250000000LL

/* nftables datatype ids (nft's datatype.h); a concatenation's type is the
 * member types shifted in 6 bits at a time. */
#define TYPE_IPADDR 7
#define TYPE_IP6ADDR 8
#define TYPE_BITS 6

struct fam {
	int af;
	uint8_t nfproto;
	const char *set;	/* addr -> masquerade */
	const char *local;	/* addr . subnet -> return */
	uint32_t type;
	uint32_t alen;
	uint32_t saddr_off, daddr_off;
	uint8_t mcast[16], mcast_mask[16];
};

static const struct fam fams[2] = {
	{ AF_INET, NFPROTO_IPV4, "masq4", "masq4_local", TYPE_IPADDR, 4, 12, 16,
	  { 224 }, { 0xf0 } },
	{ AF_INET6, NFPROTO_IPV6, "masq6", "masq6_local", TYPE_IP6ADDR, 16, 8, 24,
	  { 0xff }, { 0xff } },
};

static const struct fam *fam_of(int af)
{
	return af == AF_INET ? &fams[0] : af == AF_INET6 ? &fams[1] : NULL;
}

/* ---- owner tags ---------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--) {
		h ^= *c++;
		h *= FNV_PRIME;
	}
	return h;
}

/* fnv over "network\0container\0ifname" starting from seed. */
static uint64_t fnv_triple(uint64_t seed, const char *a, const char *b, const char *c)
{
	uint64_t h = seed;

	h = fnv1a(h, a, strlen(a) + 1);
	h = fnv1a(h, b, strlen(b) + 1);
	return fnv1a(h, c, strlen(c));
}

void netd_nft_owner(const char *network, const char *container_id, const char *ifname, char out[33])
{
	uint64_t n, h, h2;

	network = network ? network : "";
	container_id = container_id ? container_id : "";
	ifname = ifname ? ifname : "";
	n = fnv1a(FNV_OFFSET, network, strlen(network));
	h = fnv_triple(FNV_OFFSET, network, container_id, ifname);
	h2 = fnv_triple(h, network, container_id, ifname);
	snprintf(out, 33, "%08x%016llx%08x", (unsigned)(n >> 32), (unsigned long long)h,
		 (unsigned)(h2 >> 32));
}

static bool owner_ok(const char *o)
{
	size_t i;

	if (!o || !o[0] || strlen(o) > 64)
		return false;
	for (i = 0; o[i]; i++) {
		char c = o[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* ---- small address helpers (independent of addr.c on purpose: bytes only) */

static void range_of(const struct fam *f, const uint8_t *addr, unsigned len, uint8_t *first, uint8_t *last)
{
	unsigned i;

	for (i = 0; i < f->alen; i++) {
		unsigned bits = len > i * 8 ? len - i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		first[i] = addr[i] & mask;
		last[i] = addr[i] | (uint8_t)~mask;
	}
}

static const char *prefix_fmt(const struct fam *f, const uint8_t *addr, unsigned len, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(f->af, addr, a, sizeof(a));
	snprintf(buf, n, "%s/%u", a, len);
	return buf;
}

/* ---- element records ----------------------------------------------------- */

struct rec {
	const struct fam *f;
	bool local;
	uint8_t key[32], key_end[32];
	uint32_t klen, kelen;
	char owner[65];
	uint8_t net[16];	/* subnet from the comment (masqX records) */
	unsigned plen;
	bool has_net;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

static struct rec *recs_push(struct recs *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct rec *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		r->v = v;
		r->cap = cap;
	}
	memset(&r->v[r->n], 0, sizeof(r->v[0]));
	return &r->v[r->n++];
}

/* Comment is "<owner> <subnet>/<len>". */
static void parse_comment(struct rec *r, const char *c)
{
	const char *sp = strchr(c, ' '), *sl;
	char a[INET6_ADDRSTRLEN];
	size_t n = sp ? (size_t)(sp - c) : strlen(c);

	if (n >= sizeof(r->owner))
		n = sizeof(r->owner) - 1;
	memcpy(r->owner, c, n);
	r->owner[n] = 0;
	if (!sp || !(sl = strchr(sp + 1, '/')) || (size_t)(sl - sp - 1) >= sizeof(a))
		return;
	memcpy(a, sp + 1, sl - sp - 1);
	a[sl - sp - 1] = 0;
	if (inet_pton(r->f->af, a, r->net) != 1)
		return;
	r->plen = (unsigned)atoi(sl + 1);
	r->has_net = r->plen <= r->f->alen * 8;
}

static int udata_cb(const struct nftnl_udata *attr, void *data)
{
	const char **comment = data;

	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT && nftnl_udata_len(attr) > 0) {
		const char *s = nftnl_udata_get(attr);

		if (s[nftnl_udata_len(attr) - 1] == 0)
			*comment = s;
	}
	return 0;
}

static int rec_from_elem(struct rec *r, struct nftnl_set_elem *e)
{
	const void *p;
	const char *comment = NULL;
	uint32_t len;

	p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	if (!p || len > sizeof(r->key))
		return -1;
	memcpy(r->key, p, len);
	r->klen = len;
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
		p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
		if (!p || len > sizeof(r->key_end))
			return -1;
		memcpy(r->key_end, p, len);
		r->kelen = len;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
		p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
		if (p && len)
			nftnl_udata_parse(p, len, udata_cb, &comment);
	}
	if (comment)
		parse_comment(r, comment);
	return 0;
}

/* ---- netlink plumbing ---------------------------------------------------- */

struct conn {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *rbuf;
	bool deleted;	/* a batch with deletions went out: see conn_close() */
};

static int conn_open(struct conn *c, struct netd_err *err)
{
	struct timeval tv = { .tv_sec = 10 };
	int one = 1, rc;

	memset(c, 0, sizeof(*c));
	c->rbuf = malloc(RECV_BUF);
	c->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!c->rbuf || !c->nl) {
		rc = -errno;
		free(c->rbuf);
		if (c->nl)
			mnl_socket_close(c->nl);
		c->nl = NULL;
		c->rbuf = NULL;
		return netd_err_set(err, rc ? rc : -ENOMEM, NETD_ERR_KERNEL,
				    "nftables: cannot open netfilter netlink socket: %s", strerror(-rc));
	}
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		mnl_socket_close(c->nl);
		free(c->rbuf);
		c->nl = NULL;
		c->rbuf = NULL;
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: cannot bind netlink socket: %s",
				    strerror(-rc));
	}
	/* Best effort: older kernels lack extended acks, errors still arrive. */
	mnl_socket_setsockopt(c->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(c->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->portid = mnl_socket_get_portid(c->nl);
	c->seq = (uint32_t)time(NULL);
	return 0;
}

/* Why the release of a socket that deleted something is handed away: once a
 * transaction has deleted anything (an element, a rule), the release of ANY
 * bound netfilter socket in that netns waits for the kernel's deferred
 * destruction of the deleted objects, i.e. an RCU grace period (10-16 ms on
 * the test VM): nf_tables' NETLINK_URELEASE notifier flushes that work. It
 * does not depend on the socket having dumped, on NLM_F_ACK, on multicast
 * groups (we join none), on using a second socket for the batch (closing
 * either waits the same), nor on how the batch is cut; the deletion itself is
 * committed and acked in ~0.1 ms, and the same socket closed 30 ms later
 * closes in microseconds.
 *
 * So after such a batch has been acked (the change is committed), the last
 * reference to the socket goes to a grandchild that holds nothing else
 * (stdout above all: a CNI runtime reads it to EOF), waits until we have
 * dropped our reference, lingers until deletions are quiet (linger_until_quiet)
 * and exits: any wait happens there,
 * where nobody waits for it. Double fork: the grandchild is re-parented to
 * init, never a zombie of ours; the intermediate child exits at once and we
 * reap it. Cost ~0.4 ms (two forks); if forking fails we pay the wait here.
 * Since a clean socket waits just the same while anyone's deletion is still
 * pending, locked_op() also detaches the release of a clean socket when the
 * lock file says a deletion happened within RELEASE_WINDOW_NS. */
static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a, fd, max;

	if ((lo == 0 || close_range(0, (unsigned)lo - 1, 0) == 0) &&
	    (hi == lo + 1 || close_range((unsigned)lo + 1, (unsigned)hi - 1, 0) == 0) &&
	    close_range((unsigned)hi + 1, ~0U, 0) == 0)
		return;
	max = (int)sysconf(_SC_OPEN_MAX);
	for (fd = 0; fd < (max > 0 ? max : 1024); fd++)
		if (fd != a && fd != b)
			close(fd);
}

/* The lock file's first 8 bytes: CLOCK_MONOTONIC ns of the last committed
 * deletion by any of us (see conn_close). Written under the lock; lingering
 * grandchildren read it without (a torn read only changes how long one waits). */
static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Grandchild: wait until nobody has deleted anything for RELEASE_QUIET_NS
 * (so the kernel's destroy work is done and our release neither waits nor
 * holds nf_tables' commit mutex, which would stall the next transaction in
 * this netns), at most RELEASE_LINGER_MAX_NS. The lock file is opened anew:
 * the inherited descriptor shares the caller's flock and must not live on. */
static void linger_until_quiet(void)
{
	int64_t start = mono_ns(), t, now;
	int fd = open(NETD_NFT_LOCK, O_RDONLY | O_CLOEXEC);

	for (;;) {
		now = mono_ns();
		if (fd < 0 || pread(fd, &t, sizeof(t), 0) != (ssize_t)sizeof(t))
			t = start;
		if (now - t >= RELEASE_QUIET_NS || now - start >= RELEASE_LINGER_MAX_NS)
			break;
		usleep((useconds_t)((t + RELEASE_QUIET_NS - now) / 1000 + 1));
	}
	if (fd >= 0)
		close(fd);
}

static void release_detached(struct mnl_socket *nl)
{
	int sk = mnl_socket_get_fd(nl), p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		goto inline_close;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		goto inline_close;
	}
	if (pid == 0) {
		char c;

		/* Closed here, before the second fork: we wait for this
		 * process, so when we return no descendant holds our stdout
		 * (however late the grandchild gets scheduled). */
		close_all_but(sk, p[0]);
		if (fork() != 0)
			_exit(0);
		/* EOF once our write end is gone */
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		linger_until_quiet();
		_exit(0);	/* the last reference to the socket goes here */
	}
	close(p[0]);
	mnl_socket_close(nl);	/* not the last reference: returns at once */
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return;
inline_close:
	mnl_socket_close(nl);
}

static void conn_close(struct conn *c, bool detach)
{
	if (c->nl && detach)
		release_detached(c->nl);
	else if (c->nl)
		mnl_socket_close(c->nl);
	free(c->rbuf);
	c->nl = NULL;
	c->rbuf = NULL;
}

typedef int (*msg_cb)(const struct nlmsghdr *nlh, void *data);

struct wait {
	uint32_t seq_lo, seq_last;
	bool dump;
	msg_cb cb;
	void *data;
	/* results */
	int error;
	uint32_t error_seq;
	char ext[256];
	bool intr;
};

static void parse_ack(const struct nlmsghdr *nlh, struct wait *w)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t off;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) || e->error == 0 || w->error)
		return;
	w->error = e->error;
	w->error_seq = nlh->nlmsg_seq;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	off = NLMSG_ALIGN(off);
	if (NLMSG_HDRLEN + off >= nlh->nlmsg_len)
		return;
	mnl_attr_for_each_payload((const void *)((const char *)e + off), nlh->nlmsg_len - NLMSG_HDRLEN - off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(w->ext, sizeof(w->ext), "%s", mnl_attr_get_str(attr));
	}
}

/* Read until the exchange in w is complete. Returns 0 or -errno of the
 * transport; a kernel error is reported in w->error (negative errno). */
static int conn_wait(struct conn *c, struct wait *w)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(c->nl, c->rbuf, RECV_BUF);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)c->rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_pid && nlh->nlmsg_pid != c->portid)
				continue;
			if (nlh->nlmsg_seq < w->seq_lo || nlh->nlmsg_seq > w->seq_last)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				w->intr = true;
			if (nlh->nlmsg_type == NLMSG_DONE && w->dump)
				return 0;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				parse_ack(nlh, w);
				if (w->dump || nlh->nlmsg_seq == w->seq_last ||
				    (e->error && nlh->nlmsg_seq == w->seq_lo))
					return 0;
				continue;
			}
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (w->cb && w->cb(nlh, w->data) < 0)
				w->error = w->error ? w->error : -ENOMEM;
		}
	}
}

/* ---- batches ------------------------------------------------------------- */

struct batch {
	char *buf;
	size_t len, cap;
	uint32_t seq_begin, seq;
	char (*what)[96];	/* label per message, index seq - seq_begin - 1 */
	size_t nwhat, capwhat;
	bool deletes;		/* holds a DEL message */
	uint16_t family;	/* NFPROTO_INET (masquerade) or NFPROTO_BRIDGE (macspoof) */
};

static int batch_reserve(struct batch *b, size_t need)
{
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *p;

		while (cap < b->len + need)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (!p)
			return -ENOMEM;
		/* libnftnl writes without bounds checks: keep fresh space zeroed */
		memset(p + b->cap, 0, cap - b->cap);
		b->buf = p;
		b->cap = cap;
	}
	return 0;
}

static int batch_init(struct batch *b, struct conn *c)
{
	struct nlmsghdr *nlh;

	memset(b, 0, sizeof(*b));
	if (batch_reserve(b, 4096) < 0)
		return -ENOMEM;
	b->seq_begin = ++c->seq;
	b->seq = b->seq_begin;
	b->family = NFPROTO_INET;
	nlh = nftnl_batch_begin(b->buf, b->seq_begin);
	b->len = NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

static void batch_free(struct batch *b)
{
	free(b->buf);
	free(b->what);
	memset(b, 0, sizeof(*b));
}

/* Start a message with room for `room` payload bytes; NULL on ENOMEM. */
static struct nlmsghdr *batch_msg(struct batch *b, uint16_t type, uint16_t flags, size_t room,
				  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static struct nlmsghdr *batch_msg(struct batch *b, uint16_t type, uint16_t flags, size_t room,
				  const char *fmt, ...)
{
	va_list ap;

	if (batch_reserve(b, room + 1024) < 0)
		return NULL;
	if (b->nwhat == b->capwhat) {
		size_t cap = b->capwhat ? b->capwhat * 2 : 16;
		void *p = realloc(b->what, cap * sizeof(*b->what));

		if (!p)
			return NULL;
		b->what = p;
		b->capwhat = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->what[b->nwhat++], sizeof(b->what[0]), fmt, ap);
	va_end(ap);
	if (type == NFT_MSG_DELSETELEM || type == NFT_MSG_DELRULE || type == NFT_MSG_DELSET ||
	    type == NFT_MSG_DELCHAIN || type == NFT_MSG_DELTABLE)
		b->deletes = true;
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, b->family, flags | NLM_F_ACK, ++b->seq);
}

static void batch_msg_done(struct batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static int batch_send(struct conn *c, struct batch *b, struct netd_err *err)
{
	struct wait w = { .seq_lo = b->seq_begin, .seq_last = b->seq };
	struct nlmsghdr *nlh;
	const char *what;
	int rc;

	if (b->seq == b->seq_begin)
		return 0;	/* nothing to do */
	if (batch_reserve(b, 64) < 0)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	nlh = nftnl_batch_end(b->buf + b->len, b->seq + 1);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	if (b->len > 128 * 1024) {
		int sz = (int)b->len + 65536;

		if (setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (mnl_socket_sendto(c->nl, b->buf, b->len) < 0) {
		rc = -errno;
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: sending batch: %s", strerror(-rc));
	}
	c->deleted |= b->deletes;
	rc = conn_wait(c, &w);
	if (rc < 0)
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: reading batch result: %s",
				    strerror(-rc));
	if (!w.error)
		return 0;
	what = w.error_seq > b->seq_begin && w.error_seq - b->seq_begin - 1 < b->nwhat
		       ? b->what[w.error_seq - b->seq_begin - 1] : "batch";
	rc = netd_err_set(err, w.error, NETD_ERR_KERNEL, "nftables: %s: %s%s%s%s", what, strerror(-w.error),
			  w.ext[0] ? ": " : "", w.ext,
			  w.error_seq == b->seq_begin ? " (is nf_tables available, and CAP_NET_ADMIN held?)" : "");
	if (w.ext[0])
		netd_err_details(err, "%s", w.ext);
	return rc;
}

/* ---- skeleton: table, chain, sets, fixed rules --------------------------- */

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

/* meta KEY into register dreg (nfproto, iifname, ...) */
static struct nftnl_expr *e_meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *e_cmp(uint32_t sreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set_data(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *e_payload(uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *e_mask(uint32_t reg, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return e;
}

static struct nftnl_expr *e_lookup(uint32_t sreg, const char *set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);	/* the kernel reports it */
	}
	return e;
}

static struct nftnl_expr *e_return(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_RETURN);
	}
	return e;
}

enum rule_kind { R_MCAST, R_LOCAL, R_MASQ };

static struct nftnl_rule *build_rule(const struct fam *f, enum rule_kind k)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	int rc = 0;

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NETD_NFT_CNI_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, CHAIN);
	rc |= add_expr(r, e_meta(NFT_META_NFPROTO, NFT_REG_1));
	rc |= add_expr(r, e_cmp(NFT_REG_1, &f->nfproto, 1));
	switch (k) {
	case R_MCAST:
		rc |= add_expr(r, e_payload(f->daddr_off, f->alen, NFT_REG_1));
		rc |= add_expr(r, e_mask(NFT_REG_1, f->mcast_mask, f->alen));
		rc |= add_expr(r, e_cmp(NFT_REG_1, f->mcast, f->alen));
		rc |= add_expr(r, e_return());
		break;
	case R_LOCAL:
		/* concatenation: each field starts on a 32-bit register. Spelled
		 * the way the kernel reports them back (a 32-bit register that
		 * starts a 128-bit one is named by the latter), so rules_ok()
		 * compares like with like. */
		rc |= add_expr(r, e_payload(f->saddr_off, f->alen, NFT_REG_1));
		rc |= add_expr(r, e_payload(f->daddr_off, f->alen,
					    f->alen == 16 ? NFT_REG_2 : NFT_REG32_00 + f->alen / 4));
		rc |= add_expr(r, e_lookup(NFT_REG_1, f->local));
		rc |= add_expr(r, e_return());
		break;
	case R_MASQ:
		rc |= add_expr(r, e_payload(f->saddr_off, f->alen, NFT_REG_1));
		rc |= add_expr(r, e_lookup(NFT_REG_1, f->set));
		rc |= add_expr(r, nftnl_expr_alloc("masq"));
		break;
	}
	if (rc) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

static struct nftnl_set *set_obj(const struct fam *f, bool local)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NETD_NFT_CNI_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, local ? f->local : f->set);
	return s;
}

/* Same attributes every time: the kernel accepts NEWSET on an existing set
 * only if they match. */
static struct nftnl_set *build_set(const struct fam *f, bool local)
{
	struct nftnl_set *s = set_obj(f, local);
	uint8_t fields[2] = { (uint8_t)f->alen, (uint8_t)f->alen };

	if (!s)
		return NULL;
	if (local) {
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, f->type << TYPE_BITS | f->type);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, f->alen * 2);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fields, sizeof(fields));
	} else {
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, f->type);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, f->alen);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	}
	nftnl_set_set_u32(s, NFTNL_SET_ID, local ? 2 : 1);
	return s;
}

/* The skeleton pieces, each one message appended to the batch. Table, chain
 * and sets are created without EXCL (a no-op when present); a chain's rules
 * are flushed and re-added as a whole so they exist exactly once. */
struct base_chain {
	int family;		/* NFPROTO_INET, NFPROTO_BRIDGE */
	const char *name, *type;
	int hook, prio;
};

static int batch_table_chain(struct batch *b, const struct base_chain *bc)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int rc = -ENOMEM;

	if (!t || !ch)
		goto out;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, (uint32_t)bc->family);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NETD_NFT_CNI_TABLE);
	if (!(nlh = batch_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, 256, "create table %s %s",
			      bc->family == NFPROTO_BRIDGE ? "bridge" : "inet", NETD_NFT_CNI_TABLE)))
		goto out;
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_msg_done(b, nlh);

	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, (uint32_t)bc->family);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, NETD_NFT_CNI_TABLE);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, bc->name);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, bc->type);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, (uint32_t)bc->hook);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, bc->prio);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	if (!(nlh = batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, 512, "create chain %s", bc->name)))
		goto out;
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	batch_msg_done(b, nlh);
	rc = 0;
out:
	if (t)
		nftnl_table_free(t);
	if (ch)
		nftnl_chain_free(ch);
	return rc;
}

/* Takes s (freed here). */
static int batch_set(struct batch *b, struct nftnl_set *s, const char *name)
{
	struct nlmsghdr *nlh;

	if (!s)
		return -ENOMEM;
	nlh = batch_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE, 512, "create set %s", name);
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		batch_msg_done(b, nlh);
	}
	nftnl_set_free(s);
	return nlh ? 0 : -ENOMEM;
}

static int batch_flush_chain(struct batch *b, const struct base_chain *bc)
{
	struct nftnl_rule *flush = nftnl_rule_alloc();
	struct nlmsghdr *nlh = NULL;

	if (flush) {
		nftnl_rule_set_u32(flush, NFTNL_RULE_FAMILY, (uint32_t)bc->family);
		nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, NETD_NFT_CNI_TABLE);
		nftnl_rule_set_str(flush, NFTNL_RULE_CHAIN, bc->name);
		nlh = batch_msg(b, NFT_MSG_DELRULE, 0, 256, "replace rules of chain %s", bc->name);
		if (nlh) {
			nftnl_rule_nlmsg_build_payload(nlh, flush);
			batch_msg_done(b, nlh);
		}
		nftnl_rule_free(flush);
	}
	return nlh ? 0 : -ENOMEM;
}

/* Takes r (freed here). */
static int batch_rule(struct batch *b, struct nftnl_rule *r, const char *chain)
{
	struct nlmsghdr *nlh;

	if (!r)
		return -ENOMEM;
	nlh = batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, 1024, "add rule to chain %s", chain);
	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		batch_msg_done(b, nlh);
	}
	nftnl_rule_free(r);
	return nlh ? 0 : -ENOMEM;
}

static const struct base_chain masq_chain = {
	.family = NFPROTO_INET, .name = CHAIN, .type = "nat", .hook = NF_INET_POST_ROUTING, .prio = NAT_PRIO,
};

static int batch_skeleton(struct batch *b)
{
	int rc = batch_table_chain(b, &masq_chain);

	for (size_t i = 0; !rc && i < 2; i++)
		for (size_t k = 0; !rc && k < 2; k++)
			rc = batch_set(b, build_set(&fams[i], k), k ? fams[i].local : fams[i].set);
	if (!rc)
		rc = batch_flush_chain(b, &masq_chain);
	for (size_t i = 0; !rc && i < 2; i++)
		for (int k = R_MCAST; !rc && k <= R_MASQ; k++)
			rc = batch_rule(b, build_rule(&fams[i], (enum rule_kind)k), CHAIN);
	return rc;
}

/* ---- element messages ---------------------------------------------------- */

static struct nftnl_set_elem *elem_new(const struct rec *r, const char *comment)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, r->key, r->klen);
	if (r->kelen)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, r->key_end, r->kelen);
	if (comment) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 16);

		if (!u || !nftnl_udata_put_strz(u, NFTNL_UDATA_SET_ELEM_COMMENT, comment)) {
			if (u)
				nftnl_udata_buf_free(u);
			nftnl_set_elem_free(e);
			return NULL;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	return e;
}

/* One NEWSETELEM / DELSETELEM message for recs[0..n), all in the same set. */
static int batch_elems(struct batch *b, uint16_t type, const struct rec *recs, size_t n, const char *comment)
{
	const struct fam *f = recs[0].f;
	const char *set = recs[0].local ? f->local : f->set;
	struct nftnl_set *s = set_obj(f, recs[0].local);
	struct nlmsghdr *nlh;
	char key[NETD_ADDR_STRLEN];
	size_t i;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct nftnl_set_elem *e = elem_new(&recs[i], comment);

		if (!e) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elem_add(s, e);
	}
	inet_ntop(f->af, recs[0].key, key, sizeof(key));
	nlh = batch_msg(b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, n * 256 + 512,
			"%s %s%s in set %s", type == NFT_MSG_NEWSETELEM ? "add" : "delete", key,
			n > 1 ? " (and others)" : "", set);
	if (!nlh) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_msg_done(b, nlh);
	nftnl_set_free(s);
	return 0;
}

/* The two records an address owns: addr in masqX, addr . subnet in masqX_local. */
static void recs_for(const struct fam *f, const uint8_t *addr, const uint8_t *net, unsigned plen,
		     struct rec out[2])
{
	uint8_t first[16], last[16];

	memset(out, 0, 2 * sizeof(out[0]));
	range_of(f, net, plen, first, last);
	out[0].f = f;
	memcpy(out[0].key, addr, f->alen);
	out[0].klen = f->alen;
	out[1].f = f;
	out[1].local = true;
	memcpy(out[1].key, addr, f->alen);
	memcpy(out[1].key + f->alen, first, f->alen);
	memcpy(out[1].key_end, addr, f->alen);
	memcpy(out[1].key_end + f->alen, last, f->alen);
	out[1].klen = out[1].kelen = f->alen * 2;
}

/* ---- reads --------------------------------------------------------------- */

struct collect {
	const struct fam *f;
	bool local;
	struct recs *out;
};

/* Run fn on every element of a set-element message; other messages are
 * ignored. fn returns <0 to stop (an allocation failed). */
static int for_each_elem(const struct nlmsghdr *nlh, int (*fn)(struct nftnl_set_elem *e, void *arg), void *arg)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	int rc = 0;

	if (!s)
		return -1;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return 0;	/* not an element message: ignore */
	}
	it = nftnl_set_elems_iter_create(s);
	if (!it) {
		nftnl_set_free(s);
		return -1;
	}
	/* iter_next returns the current element, then advances */
	while (!rc && (e = nftnl_set_elems_iter_next(it)))
		rc = fn(e, arg) < 0 ? -1 : 0;
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return rc;
}

static int collect_elem(struct nftnl_set_elem *e, void *data)
{
	struct collect *c = data;
	struct rec *r = recs_push(c->out);

	if (!r)
		return -1;
	r->f = c->f;
	r->local = c->local;
	if (rec_from_elem(r, e) < 0)
		c->out->n--;
	return 0;
}

static int collect_cb(const struct nlmsghdr *nlh, void *data)
{
	return for_each_elem(nlh, collect_elem, data);
}

/* Dump all elements of one set into out; a missing table or set is empty. */
static int dump_set(struct conn *c, const struct fam *f, bool local, struct recs *out, struct netd_err *err)
{
	int tries;

	for (tries = 0; tries < DUMP_RETRIES; tries++) {
		size_t start = out->n;
		struct collect col = { f, local, out };
		struct wait w = { .dump = true, .cb = collect_cb, .data = &col };
		struct nftnl_set *s = set_obj(f, local);
		char buf[512];
		struct nlmsghdr *nlh;
		int rc;

		if (!s)
			return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
		w.seq_lo = w.seq_last = ++c->seq;
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
					    w.seq_lo);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
			return netd_err_set(err, -errno, NETD_ERR_KERNEL, "nftables: listing set %s: %s",
					    local ? f->local : f->set, strerror(errno));
		rc = conn_wait(c, &w);
		if (rc == 0 && w.error == -ENOENT) {
			out->n = start;
			return 0;
		}
		if (rc == 0 && w.error)
			rc = w.error;
		if (rc < 0)
			return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: listing set %s: %s",
					    local ? f->local : f->set, strerror(-rc));
		if (!w.intr)
			return 0;
		out->n = start;	/* the ruleset changed under the dump: again */
	}
	return netd_err_set(err, -EAGAIN, CNI_ERR_TRY_LATER, "nftables: set listing kept being interrupted");
}

static int dump_all(struct conn *c, bool with_local, struct recs *out, struct netd_err *err)
{
	size_t i;
	int rc;

	for (i = 0; i < 2; i++) {
		if ((rc = dump_set(c, &fams[i], false, out, err)) < 0)
			return rc;
		if (with_local && (rc = dump_set(c, &fams[i], true, out, err)) < 0)
			return rc;
	}
	return 0;
}

/* GET one element of masqX by address. 1 found (rec filled), 0 absent. */
static int get_elem(struct conn *c, const struct fam *f, const uint8_t *addr, struct rec *found,
		    struct netd_err *err)
{
	struct recs out = { 0 };
	struct collect col = { f, false, &out };
	struct wait w = { .cb = collect_cb, .data = &col };
	struct nftnl_set *s = set_obj(f, false);
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	char buf[1024];
	struct nlmsghdr *nlh;
	int rc;

	if (!s || !e) {
		if (s)
			nftnl_set_free(s);
		if (e)
			nftnl_set_elem_free(e);
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	}
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, addr, f->alen);
	nftnl_set_elem_add(s, e);
	w.seq_lo = w.seq_last = ++c->seq;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, w.seq_lo);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: reading set %s: %s", f->set,
				    strerror(-rc));
	}
	rc = conn_wait(c, &w);
	if (rc == 0 && w.error && w.error != -ENOENT)
		rc = w.error;
	if (rc < 0) {
		free(out.v);
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: reading set %s: %s", f->set,
				    strerror(-rc));
	}
	rc = 0;
	if (!w.error && out.n > 0) {
		*found = out.v[0];
		rc = 1;
	}
	free(out.v);
	return rc;
}

/* Our chain's rules, as libnftnl renders their expressions: compared with
 * what build_rule() makes, so a flushed or edited chain is noticed. */
#define NRULES 6
#define SIG_MAX 640

struct rules_seen {
	char sig[NRULES + 1][SIG_MAX];
	int n;
};

static void rule_sig(const struct nftnl_rule *r, char *out)
{
	char buf[2048];
	const char *p;

	buf[0] = 0;
	nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
	p = strchr(buf, '\n');	/* first line: table, chain, handle */
	snprintf(out, SIG_MAX, "%s", p ? p : buf);
}

static int rules_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rules_seen *seen = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return -1;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		if (seen->n <= NRULES)
			rule_sig(r, seen->sig[seen->n]);
		seen->n++;
	}
	nftnl_rule_free(r);
	return 0;
}

/* 1 if `chain` of table netd_cni in `family` holds exactly the rules in
 * want[0..n) (signatures, see rule_sig), 0 if not (or missing). */
static int chain_rules_match(struct conn *c, uint16_t family, const char *chain, char (*want)[SIG_MAX],
			     int n, struct netd_err *err)
{
	struct rules_seen *seen = calloc(1, sizeof(*seen));
	struct wait w = { .dump = true, .cb = rules_cb, .data = seen };
	struct nftnl_rule *q = nftnl_rule_alloc();
	char buf[512];
	struct nlmsghdr *nlh;
	int rc, i;

	if (!seen || !q) {
		free(seen);
		if (q)
			nftnl_rule_free(q);
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	}
	nftnl_rule_set_u32(q, NFTNL_RULE_FAMILY, family);
	nftnl_rule_set_str(q, NFTNL_RULE_TABLE, NETD_NFT_CNI_TABLE);
	nftnl_rule_set_str(q, NFTNL_RULE_CHAIN, chain);
	w.seq_lo = w.seq_last = ++c->seq;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, family, NLM_F_DUMP | NLM_F_ACK, w.seq_lo);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	nftnl_rule_free(q);
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		rc = -errno;
	else
		rc = conn_wait(c, &w);
	if (rc == 0 && w.error && w.error != -ENOENT)
		rc = w.error;
	if (rc < 0) {
		free(seen);
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: listing chain %s: %s", chain,
				    strerror(-rc));
	}
	rc = !w.error && !w.intr && seen->n == n;
	for (i = 0; rc && i < n; i++)
		rc = !strcmp(want[i], seen->sig[i]);
	free(seen);
	return rc;
}

/* 1 if chain postrouting holds exactly our rules, 0 if not (or missing). */
static int rules_ok(struct conn *c, struct netd_err *err)
{
	static char want[NRULES][SIG_MAX];
	int i;

	for (i = 0; i < NRULES; i++) {
		struct nftnl_rule *r = build_rule(&fams[i / 3], (enum rule_kind)(i % 3));

		if (!r)
			return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
		rule_sig(r, want[i]);
		nftnl_rule_free(r);
	}
	return chain_rules_match(c, NFPROTO_INET, CHAIN, want, NRULES, err);
}

/* ---- lock ---------------------------------------------------------------- */

static int lock_take(struct netd_err *err)
{
	int fd, rc;

	if (mkdir("/run/netd", 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		return netd_err_set(err, rc, CNI_ERR_IO, "nftables: creating /run/netd: %s", strerror(-rc));
	}
	fd = open(NETD_NFT_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		return netd_err_set(err, rc, CNI_ERR_IO, "nftables: opening %s: %s", NETD_NFT_LOCK,
				    strerror(-rc));
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			close(fd);
			return netd_err_set(err, rc, CNI_ERR_IO, "nftables: locking %s: %s", NETD_NFT_LOCK,
					    strerror(-rc));
		}
	}
	return fd;
}

static void lock_drop(int fd)
{
	if (fd >= 0)
		close(fd);
}

static bool deleted_recently(int lock)
{
	int64_t t;

	return pread(lock, &t, sizeof(t), 0) == (ssize_t)sizeof(t) && mono_ns() - t < RELEASE_WINDOW_NS;
}

static void note_deletion(int lock)
{
	int64_t t = mono_ns();

	if (pwrite(lock, &t, sizeof(t), 0) != (ssize_t)sizeof(t)) {
		/* only an optimisation is lost */
	}
}

typedef int (*conn_op)(struct conn *c, void *arg, struct netd_err *err);

/* Under the lock: open a connection, run op on it; then drop the lock and
 * close the connection (see conn_close for why the release may happen in
 * another process). The lock goes first: it is not needed for the release,
 * and a grandchild must never inherit it (if it were scheduled late, the
 * flock would outlive our close). */
static int locked_op(conn_op op, void *arg, struct netd_err *err)
{
	struct conn c;
	int lock, rc;
	bool detach = false;

	if ((lock = lock_take(err)) < 0)
		return lock;
	if ((rc = conn_open(&c, err)) == 0) {
		rc = op(&c, arg, err);
		detach = c.deleted || deleted_recently(lock);
		if (c.deleted)
			note_deletion(lock);
	}
	lock_drop(lock);
	if (c.nl)
		conn_close(&c, detach);
	return rc;
}

/* ---- public API ---------------------------------------------------------- */

static int check_addr(const struct netd_addr *a, const struct fam **f, struct netd_err *err)
{
	if (!a || !(*f = fam_of(a->family)))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: address family not IPv4/IPv6");
	return 0;
}

struct add_arg {
	const struct fam *f;
	const struct netd_prefix *addr;
	const char *owner;
	char comment[NFTNL_UDATA_COMMENT_MAXLEN];
	uint8_t first[16];
	struct rec want[2];
};

static int masq_add_op(struct conn *c, void *arg, struct netd_err *err)
{
	struct add_arg *a = arg;
	const struct fam *f = a->f;
	struct rec old, gone[2];
	struct batch b;
	int rc, found, attempt, intact, same;

	found = get_elem(c, f, a->addr->addr.b, &old, err);
	if ((rc = found) < 0)
		return rc;
	if ((rc = rules_ok(c, err)) < 0)
		return rc;
	intact = rc;
	same = found && old.has_net && !strcmp(old.owner, a->owner) && old.plen == a->addr->len &&
	       !memcmp(old.net, a->first, f->alen);
	if (intact && same)
		return 0;	/* already there, same owner, same subnet */
	/* With the rules intact, try without the skeleton; a set may still be
	 * missing (ENOENT), then build everything in the batch. */
	for (attempt = intact ? 0 : 1; attempt < 2; attempt++) {
		if ((rc = batch_init(&b, c)) < 0)
			break;
		if (attempt && (rc = batch_skeleton(&b)) < 0)
			goto next;
		if (found && !same) {
			/* Replace: the address was reused. Add-then-delete makes the
			 * deletes succeed even if an old element is already missing. */
			const uint8_t *onet = old.has_net ? old.net : a->first;
			unsigned oplen = old.has_net ? old.plen : a->addr->len;

			recs_for(f, a->addr->addr.b, onet, oplen, gone);
			if ((rc = batch_elems(&b, NFT_MSG_NEWSETELEM, &gone[1], 1, NULL)) < 0 ||
			    (rc = batch_elems(&b, NFT_MSG_DELSETELEM, &gone[0], 1, NULL)) < 0 ||
			    (rc = batch_elems(&b, NFT_MSG_DELSETELEM, &gone[1], 1, NULL)) < 0)
				goto next;
		}
		if ((rc = batch_elems(&b, NFT_MSG_NEWSETELEM, &a->want[0], 1, a->comment)) < 0 ||
		    (rc = batch_elems(&b, NFT_MSG_NEWSETELEM, &a->want[1], 1, a->comment)) < 0)
			goto next;
		if (attempt == 0) {
			struct netd_err quiet = { 0 };

			rc = batch_send(c, &b, &quiet);
			if (rc == -ENOENT && !found) {
				batch_free(&b);
				continue;
			}
			if (rc < 0)
				netd_err_set(err, rc, quiet.code, "%s", quiet.msg);
			if (rc < 0 && quiet.details[0])
				netd_err_details(err, "%s", quiet.details);
		} else {
			rc = batch_send(c, &b, err);
		}
next:
		batch_free(&b);
		break;
	}
	if (rc == -ENOMEM && !netd_err_isset(err))
		netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	return rc < 0 ? rc : 0;
}

int netd_nft_masq_add(const struct netd_prefix *addr, const char *owner, struct netd_err *err)
{
	struct add_arg a = { .addr = addr, .owner = owner };
	char pfx[NETD_PREFIX_STRLEN];
	uint8_t last[16];
	int rc;

	if ((rc = check_addr(addr ? &addr->addr : NULL, &a.f, err)) < 0)
		return rc;
	if (addr->len > a.f->alen * 8)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: prefix length %u too long",
				    addr->len);
	if (!owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	range_of(a.f, addr->addr.b, addr->len, a.first, last);
	snprintf(a.comment, sizeof(a.comment), "%s %s", owner,
		 prefix_fmt(a.f, a.first, addr->len, pfx, sizeof(pfx)));
	recs_for(a.f, addr->addr.b, a.first, addr->len, a.want);

	rc = locked_op(masq_add_op, &a, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "masquerade for %s", prefix_fmt(a.f, addr->addr.b,
				addr->len, pfx, sizeof(pfx)));
	return rc < 0 ? rc : 0;
}

struct has_arg {
	const struct fam *f;
	const struct netd_prefix *addr;
	const char *owner;
	uint8_t first[16];
};

static int masq_has_op(struct conn *c, void *arg, struct netd_err *err)
{
	struct has_arg *a = arg;
	struct rec old;
	int rc;

	rc = get_elem(c, a->f, a->addr->addr.b, &old, err);
	if (rc == 1)
		rc = !strcmp(old.owner, a->owner) && old.has_net && old.plen == a->addr->len &&
		     !memcmp(old.net, a->first, a->f->alen);
	if (rc == 1)
		rc = rules_ok(c, err);
	return rc;
}

int netd_nft_masq_has(const struct netd_prefix *addr, const char *owner, struct netd_err *err)
{
	struct has_arg a = { .addr = addr, .owner = owner };
	uint8_t last[16];
	int rc;

	if ((rc = check_addr(addr ? &addr->addr : NULL, &a.f, err)) < 0)
		return rc;
	if (!owner)
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	range_of(a.f, addr->addr.b, addr->len, a.first, last);
	rc = locked_op(masq_has_op, &a, err);
	return rc;
}

/* Delete every record in recs selected by keep_rec(), in one batch. */
static int delete_recs(struct conn *c, const struct recs *all, bool (*sel)(const struct rec *, void *),
		       void *arg, struct netd_err *err)
{
	struct rec *pick = NULL;
	size_t i, j, n = 0;
	struct batch b;
	int rc;

	if (all->n)
		pick = malloc(all->n * sizeof(*pick));
	if (all->n && !pick)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	for (i = 0; i < all->n; i++)
		if (sel(&all->v[i], arg))
			pick[n++] = all->v[i];
	if (!n) {
		free(pick);
		return 0;
	}
	if ((rc = batch_init(&b, c)) < 0) {
		free(pick);
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	}
	/* records arrive grouped by set (dump order); cut a message per set run */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && j - i < ELEMS_PER_MSG && pick[j].f == pick[i].f &&
				pick[j].local == pick[i].local; j++)
			;
		if ((rc = batch_elems(&b, NFT_MSG_DELSETELEM, &pick[i], j - i, NULL)) < 0) {
			batch_free(&b);
			free(pick);
			return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
		}
	}
	rc = batch_send(c, &b, err);
	batch_free(&b);
	free(pick);
	return rc;
}

struct del_arg {
	bool (*sel)(const struct rec *, void *);
	void *sel_arg;
};

/* List the four sets, delete what sel() picks: one batch. */
static int del_sel_op(struct conn *c, void *arg, struct netd_err *err)
{
	struct del_arg *a = arg;
	struct recs all = { 0 };
	int rc;

	if ((rc = dump_all(c, true, &all, err)) == 0)
		rc = delete_recs(c, &all, a->sel, a->sel_arg, err);
	free(all.v);
	return rc;
}

/* Batch the removal of an address element r (as listed from masqX) and the
 * masqX_local element its comment names; that one is added before it is
 * deleted, so a missing one (an edited set) does not fail the batch. */
static int masq_batch_del(struct batch *b, const struct rec *r)
{
	struct rec gone[2];
	int rc;

	b->family = NFPROTO_INET;
	recs_for(r->f, r->key, r->has_net ? r->net : r->key, r->has_net ? r->plen : r->f->alen * 8, gone);
	if ((rc = batch_elems(b, NFT_MSG_DELSETELEM, &gone[0], 1, NULL)) < 0 || !r->has_net)
		return rc;
	if ((rc = batch_elems(b, NFT_MSG_NEWSETELEM, &gone[1], 1, NULL)) < 0)
		return rc;
	return batch_elems(b, NFT_MSG_DELSETELEM, &gone[1], 1, NULL);
}

/* DEL by owner lists masq4 and masq6 only: each element's comment names its
 * subnet, which gives the masqX_local element without listing those (larger,
 * interval) sets. That one is added before it is deleted, so a missing one
 * does not fail the batch. (GC lists all four, and so also removes local
 * elements left without their address element.) */
static int masq_del_owner_op(struct conn *c, void *arg, struct netd_err *err)
{
	const char *owner = arg;
	struct recs all = { 0 };
	struct batch b;
	size_t i;
	int rc;

	if ((rc = dump_all(c, false, &all, err)) < 0)
		goto out;
	if ((rc = batch_init(&b, c)) < 0) {
		rc = netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
		goto out;
	}
	for (i = 0; rc == 0 && i < all.n; i++)
		if (!strcmp(all.v[i].owner, owner))
			rc = masq_batch_del(&b, &all.v[i]);
	if (rc < 0)
		rc = netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	else
		rc = batch_send(c, &b, err);	/* no-op when nothing was picked */
	batch_free(&b);
out:
	free(all.v);
	return rc;
}

int netd_nft_masq_del(const char *owner, struct netd_err *err)
{
	int rc;

	if (!owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	rc = locked_op(masq_del_owner_op, (void *)owner, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "removing masquerade of %s", owner);
	return rc;
}

struct del_addr_arg {
	const struct fam *f;
	const struct netd_addr *addr;
	const char *owner;
};

static int masq_del_addr_op(struct conn *c, void *arg, struct netd_err *err)
{
	struct del_addr_arg *a = arg;
	struct rec old;
	struct batch b;
	int rc;

	rc = get_elem(c, a->f, a->addr->b, &old, err);
	if (rc <= 0 || strcmp(old.owner, a->owner))
		return rc < 0 ? rc : 0;
	if ((rc = batch_init(&b, c)) < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	if ((rc = masq_batch_del(&b, &old)) == 0)
		rc = batch_send(c, &b, err);
	else
		rc = netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	batch_free(&b);
	return rc < 0 ? rc : 0;
}

int netd_nft_masq_del_addr(const struct netd_addr *addr, const char *owner, struct netd_err *err)
{
	struct del_addr_arg a = { .addr = addr, .owner = owner };
	int rc;

	if ((rc = check_addr(addr, &a.f, err)) < 0)
		return rc;
	if (!owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	rc = locked_op(masq_del_addr_op, &a, err);
	return rc < 0 ? rc : 0;
}

struct gc_arg {
	char prefix[9];
	const char *const *keep;
	size_t n;
};

static bool sel_gc(const struct rec *r, void *arg)
{
	const struct gc_arg *g = arg;
	size_t i;

	if (strlen(r->owner) != 32 || strncmp(r->owner, g->prefix, 8))
		return false;
	for (i = 0; i < g->n; i++)
		if (g->keep[i] && !strcmp(g->keep[i], r->owner))
			return false;
	return true;
}

int netd_nft_masq_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err)
{
	struct gc_arg g = { .keep = keep, .n = n };
	struct del_arg d = { sel_gc, &g };
	char tag[33];
	int rc;

	if (!network || !network[0])
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: gc needs a network name");
	netd_nft_owner(network, "", "", tag);
	memcpy(g.prefix, tag, 8);
	g.prefix[8] = 0;
	rc = locked_op(del_sel_op, &d, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "masquerade gc of network %s", network);
	return rc;
}

static int list_op(struct conn *c, void *arg, struct netd_err *err)
{
	return dump_all(c, false, arg, err);
}

int netd_nft_masq_list(struct netd_nft_masq_entry **out, size_t *n, struct netd_err *err)
{
	struct recs all = { 0 };
	struct netd_nft_masq_entry *v = NULL;
	size_t i, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = locked_op(list_op, &all, err);
	if (rc == 0 && all.n && !(v = calloc(all.n, sizeof(*v))))
		rc = netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	for (i = 0; rc == 0 && i < all.n; i++) {
		const struct rec *r = &all.v[i];

		v[k].addr.addr.family = r->f->af;
		memcpy(v[k].addr.addr.b, r->key, r->f->alen);
		v[k].addr.len = r->has_net ? (uint8_t)r->plen : (uint8_t)(r->f->alen * 8);
		snprintf(v[k].owner, sizeof(v[k].owner), "%s", r->owner);
		k++;
	}
	free(all.v);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* ---- macspoofchk: table `bridge netd_cni` ---------------------------------
 *
 * Frames entering a bridge from a guarded port (a container's host-side
 * veth) must carry that container's MAC as source. Two sets keep the cost
 * flat in the number of containers, and one fixed rule reads them:
 *
 *   chain macspoof { type filter hook prerouting priority -300; }
 *     iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow drop
 *
 * macspoof_ifaces holds the guarded port names, each with comment
 * "<owner> <mac>" (so DEL finds the allow element without listing that set);
 * macspoof_allow holds "port . mac" with comment "<owner>". Same lock, same
 * one-batch-per-change, same repair of table/chain/sets/rule as masquerade.
 */

#define MSP_CHAIN "macspoof"
#define MSP_IFACES "macspoof_ifaces"
#define MSP_ALLOW "macspoof_allow"
#define MSP_PRIO (-300)		/* before anything else on the bridge (dstnat) */
#define TYPE_ETHERADDR 9
#define TYPE_IFNAME 41
#define IFNAME_LEN 16		/* IFNAMSIZ: keys are zero-padded to it */
#define ALLOW_KLEN 24		/* ifname . ether_addr, each field 32-bit aligned */
#define LL_SADDR_OFF 6
#define NFT_BYTEORDER_HOST 1	/* nft's enum byteorder, in set userdata */

struct msp_rec {
	bool allow;		/* element of macspoof_allow (else of macspoof_ifaces) */
	uint8_t key[ALLOW_KLEN];
	uint32_t klen;
	char owner[65];
	uint8_t mac[6];		/* ifaces: from the comment */
	bool has_mac;
};

struct msp_recs {
	struct msp_rec *v;
	size_t n, cap;
};

static void msp_key_if(const char *ifname, uint8_t key[IFNAME_LEN])
{
	memset(key, 0, IFNAME_LEN);
	memcpy(key, ifname, strlen(ifname));
}

static void msp_key_allow(const char *ifname, const uint8_t mac[6], uint8_t key[ALLOW_KLEN])
{
	memset(key, 0, ALLOW_KLEN);
	memcpy(key, ifname, strlen(ifname));
	memcpy(key + IFNAME_LEN, mac, 6);
}

static void mac_fmt(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static bool mac_parse(const char *s, uint8_t m[6])
{
	unsigned v[6];
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return false;
	for (i = 0; i < 6; i++)
		m[i] = (uint8_t)v[i];
	return true;
}

static struct nftnl_set *msp_set_obj(bool allow)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_BRIDGE);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NETD_NFT_CNI_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, allow ? MSP_ALLOW : MSP_IFACES);
	return s;
}

static struct nftnl_set *msp_build_set(bool allow)
{
	struct nftnl_set *s = msp_set_obj(allow);

	if (!s)
		return NULL;
	if (allow) {
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, TYPE_IFNAME << TYPE_BITS | TYPE_ETHERADDR);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, ALLOW_KLEN);
	} else {
		/* nft prints a lone string key only if told it is host-endian
		 * (as nft itself records it); a concatenation needs no hint */
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(64);

		if (!u || !nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_HOST)) {
			if (u)
				nftnl_udata_buf_free(u);
			nftnl_set_free(s);
			return NULL;
		}
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, TYPE_IFNAME);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, IFNAME_LEN);
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	nftnl_set_set_u32(s, NFTNL_SET_ID, allow ? 2 : 1);
	return s;
}

static struct nftnl_expr *e_lookup_flags(uint32_t sreg, const char *set, uint32_t flags)
{
	struct nftnl_expr *e = e_lookup(sreg, set);

	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, flags);
	return e;
}

static struct nftnl_expr *e_drop(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
	}
	return e;
}

/* iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow drop */
static struct nftnl_rule *msp_build_rule(void)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *pl;
	int rc = 0;

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_BRIDGE);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NETD_NFT_CNI_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, MSP_CHAIN);
	rc |= add_expr(r, e_meta(NFT_META_IIFNAME, NFT_REG_1));
	rc |= add_expr(r, e_lookup(NFT_REG_1, MSP_IFACES));
	rc |= add_expr(r, e_meta(NFT_META_IIFNAME, NFT_REG_1));
	/* the MAC goes right after the 16-byte name: 32-bit register 4, which
	 * the kernel reports as NFT_REG_2 (see build_rule) */
	if ((pl = nftnl_expr_alloc("payload"))) {
		nftnl_expr_set_u32(pl, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_LL_HEADER);
		nftnl_expr_set_u32(pl, NFTNL_EXPR_PAYLOAD_OFFSET, LL_SADDR_OFF);
		nftnl_expr_set_u32(pl, NFTNL_EXPR_PAYLOAD_LEN, 6);
		nftnl_expr_set_u32(pl, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_2);
	}
	rc |= add_expr(r, pl);
	rc |= add_expr(r, e_lookup_flags(NFT_REG_1, MSP_ALLOW, NFT_LOOKUP_F_INV));
	rc |= add_expr(r, e_drop());
	if (rc) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

static int msp_rules_ok(struct conn *c, struct netd_err *err)
{
	static char want[1][SIG_MAX];
	struct nftnl_rule *r = msp_build_rule();

	if (!r)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	rule_sig(r, want[0]);
	nftnl_rule_free(r);
	return chain_rules_match(c, NFPROTO_BRIDGE, MSP_CHAIN, want, 1, err);
}

/* Table, chain, sets (no EXCL: no-ops when present) and the rule, replaced. */
static const struct base_chain msp_chain = {
	.family = NFPROTO_BRIDGE, .name = MSP_CHAIN, .type = "filter", .hook = NF_BR_PRE_ROUTING, .prio = MSP_PRIO,
};

static int msp_skeleton(struct batch *b)
{
	int rc = batch_table_chain(b, &msp_chain);

	for (int k = 0; !rc && k < 2; k++)
		rc = batch_set(b, msp_build_set(k), k ? MSP_ALLOW : MSP_IFACES);
	if (!rc)
		rc = batch_flush_chain(b, &msp_chain);
	if (!rc)
		rc = batch_rule(b, msp_build_rule(), MSP_CHAIN);
	return rc;
}

/* One NEWSETELEM / DELSETELEM message for recs[0..n), all in the same set;
 * comment (NULL: none) goes on every element. */
static int msp_batch_elems(struct batch *b, uint16_t type, const struct msp_rec *recs, size_t n,
			   const char *comment)
{
	struct nftnl_set *s = msp_set_obj(recs[0].allow);
	struct nlmsghdr *nlh;
	size_t i;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();

		if (!e) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, recs[i].key, recs[i].klen);
		if (comment) {
			struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 16);

			if (!u || !nftnl_udata_put_strz(u, NFTNL_UDATA_SET_ELEM_COMMENT, comment)) {
				if (u)
					nftnl_udata_buf_free(u);
				nftnl_set_elem_free(e);
				nftnl_set_free(s);
				return -ENOMEM;
			}
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(u),
					   nftnl_udata_buf_len(u));
			nftnl_udata_buf_free(u);
		}
		nftnl_set_elem_add(s, e);
	}
	nlh = batch_msg(b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, n * 256 + 512,
			"%s %.*s%s in set %s", type == NFT_MSG_NEWSETELEM ? "add" : "delete", IFNAME_LEN,
			(const char *)recs[0].key, n > 1 ? " (and others)" : "",
			recs[0].allow ? MSP_ALLOW : MSP_IFACES);
	if (!nlh) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_msg_done(b, nlh);
	nftnl_set_free(s);
	return 0;
}

struct msp_collect {
	bool allow;
	struct msp_recs *out;
};

static int msp_collect_elem(struct nftnl_set_elem *e, void *data)
{
	struct msp_collect *col = data;
	const char *comment = NULL, *sp;
	struct msp_rec *r;
	const void *p;
	uint32_t len;

	p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	if (!p || len > ALLOW_KLEN)
		return 0;
	if (col->out->n == col->out->cap) {
		size_t cap = col->out->cap ? col->out->cap * 2 : 32;
		struct msp_rec *v = realloc(col->out->v, cap * sizeof(*v));

		if (!v)
			return -1;
		col->out->v = v;
		col->out->cap = cap;
	}
	r = &col->out->v[col->out->n++];
	memset(r, 0, sizeof(*r));
	r->allow = col->allow;
	memcpy(r->key, p, len);
	r->klen = len;
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
		p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
		if (p && len)
			nftnl_udata_parse(p, len, udata_cb, &comment);
	}
	if (!comment)
		return 0;
	sp = strchr(comment, ' ');
	snprintf(r->owner, sizeof(r->owner), "%.*s", sp ? (int)(sp - comment) : 64, comment);
	if (sp)
		r->has_mac = mac_parse(sp + 1, r->mac);
	return 0;
}

static int msp_collect_cb(const struct nlmsghdr *nlh, void *data)
{
	return for_each_elem(nlh, msp_collect_elem, data);
}

/* GET one element by key (exact) when key is set, else dump the whole set.
 * A missing table or set is empty. */
static int msp_read(struct conn *c, bool allow, const uint8_t *key, uint32_t klen, struct msp_recs *out,
		    struct netd_err *err)
{
	const char *set = allow ? MSP_ALLOW : MSP_IFACES;
	int tries;

	for (tries = 0; tries < DUMP_RETRIES; tries++) {
		size_t start = out->n;
		struct msp_collect col = { allow, out };
		struct wait w = { .dump = !key, .cb = msp_collect_cb, .data = &col };
		struct nftnl_set *s = msp_set_obj(allow);
		char buf[1024];
		struct nlmsghdr *nlh;
		int rc;

		if (!s)
			return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
		if (key) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();

			if (!e) {
				nftnl_set_free(s);
				return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
			}
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, klen);
			nftnl_set_elem_add(s, e);
		}
		w.seq_lo = w.seq_last = ++c->seq;
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_BRIDGE,
					    (key ? 0 : NLM_F_DUMP) | NLM_F_ACK, w.seq_lo);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
			rc = -errno;
		else
			rc = conn_wait(c, &w);
		if (rc == 0 && w.error == -ENOENT) {
			out->n = start;
			return 0;
		}
		if (rc == 0 && w.error)
			rc = w.error;
		if (rc < 0)
			return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: reading set %s: %s", set,
					    strerror(-rc));
		if (!w.intr)
			return 0;
		out->n = start;
	}
	return netd_err_set(err, -EAGAIN, CNI_ERR_TRY_LATER, "nftables: set listing kept being interrupted");
}

/* The guarded-port element of ifname, if any: 1 (r filled), 0, <0. */
static int msp_get_if(struct conn *c, const char *ifname, struct msp_rec *r, struct netd_err *err)
{
	struct msp_recs out = { 0 };
	uint8_t key[IFNAME_LEN];
	int rc;

	msp_key_if(ifname, key);
	rc = msp_read(c, false, key, IFNAME_LEN, &out, err);
	if (rc == 0 && out.n) {
		*r = out.v[0];
		rc = 1;
	}
	free(out.v);
	return rc;
}

/* Batch the removal of a guarded port (its ifaces element) and its allow
 * element. The allow element is added before it is deleted, so a missing one
 * (edited set) does not fail the batch. */
static int msp_batch_del_port(struct batch *b, const struct msp_rec *port)
{
	struct msp_rec allow = { .allow = true, .klen = ALLOW_KLEN };
	int rc;

	b->family = NFPROTO_BRIDGE;
	if ((rc = msp_batch_elems(b, NFT_MSG_DELSETELEM, port, 1, NULL)) < 0 || !port->has_mac)
		return rc;
	memcpy(allow.key, port->key, IFNAME_LEN);
	memcpy(allow.key + IFNAME_LEN, port->mac, 6);
	if ((rc = msp_batch_elems(b, NFT_MSG_NEWSETELEM, &allow, 1, NULL)) < 0)
		return rc;
	return msp_batch_elems(b, NFT_MSG_DELSETELEM, &allow, 1, NULL);
}

struct msp_arg {
	const char *ifname;
	const uint8_t *mac;
	const char *owner;
	char comment[NFTNL_UDATA_COMMENT_MAXLEN];	/* "<owner> <mac>" */
	/* gc */
	char prefix[9];
	const char *const *keep;
	size_t n;
};

static int msp_add_op(struct conn *c, void *arg, struct netd_err *err)
{
	struct msp_arg *a = arg;
	struct msp_rec old, port = { .klen = IFNAME_LEN }, allow = { .allow = true, .klen = ALLOW_KLEN };
	struct batch b;
	int rc, found, intact, same;

	if ((found = msp_get_if(c, a->ifname, &old, err)) < 0)
		return found;
	if ((intact = msp_rules_ok(c, err)) < 0)
		return intact;
	same = found && old.has_mac && !strcmp(old.owner, a->owner) && !memcmp(old.mac, a->mac, 6);
	if (intact && same)
		return 0;
	msp_key_if(a->ifname, port.key);
	msp_key_allow(a->ifname, a->mac, allow.key);
	if ((rc = batch_init(&b, c)) < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	b.family = NFPROTO_BRIDGE;
	/* an intact rule means both sets exist (a set a rule uses cannot go) */
	rc = intact ? 0 : msp_skeleton(&b);
	/* the port changed hands or MAC: its old elements go, in the same batch */
	if (rc == 0 && found && !same)
		rc = msp_batch_del_port(&b, &old);
	if (rc == 0)
		rc = msp_batch_elems(&b, NFT_MSG_NEWSETELEM, &port, 1, a->comment);
	if (rc == 0)
		rc = msp_batch_elems(&b, NFT_MSG_NEWSETELEM, &allow, 1, a->owner);
	if (rc == 0)
		rc = batch_send(c, &b, err);
	else
		rc = netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	batch_free(&b);
	return rc < 0 ? rc : 0;
}

static int msp_has_op(struct conn *c, void *arg, struct netd_err *err)
{
	struct msp_arg *a = arg;
	struct msp_recs out = { 0 };
	uint8_t key[ALLOW_KLEN];
	struct msp_rec port;
	int rc;

	rc = msp_get_if(c, a->ifname, &port, err);
	if (rc == 1)
		rc = port.has_mac && !strcmp(port.owner, a->owner) && !memcmp(port.mac, a->mac, 6);
	if (rc == 1) {
		msp_key_allow(a->ifname, a->mac, key);
		rc = msp_read(c, true, key, ALLOW_KLEN, &out, err);
		if (rc == 0)
			rc = out.n == 1 && !strcmp(out.v[0].owner, a->owner);
		free(out.v);
	}
	if (rc == 1)
		rc = msp_rules_ok(c, err);
	return rc;
}

static bool msp_sel_owner(const struct msp_rec *r, const struct msp_arg *a)
{
	return !strcmp(r->owner, a->owner);
}

static bool msp_sel_gc(const struct msp_rec *r, const struct msp_arg *a)
{
	size_t i;

	if (strlen(r->owner) != 32 || strncmp(r->owner, a->prefix, 8))
		return false;
	for (i = 0; i < a->n; i++)
		if (a->keep[i] && !strcmp(a->keep[i], r->owner))
			return false;
	return true;
}

static int msp_batch_chunks(struct batch *b, uint16_t type, const struct msp_rec *v, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i += ELEMS_PER_MSG)
		rc = msp_batch_elems(b, type, v + i, n - i < ELEMS_PER_MSG ? n - i : ELEMS_PER_MSG, NULL);
	return rc;
}

/* Remove what sel() picks. del lists only the ports (their comment names the
 * allow element); gc lists both sets, so allow elements left without a port
 * (an edited set) go too. One batch, elements grouped ELEMS_PER_MSG to a
 * message (one ack each: thousands would overflow our receive buffer). Allow
 * elements are added before they are deleted, so a missing one is no error. */
static int msp_del_sel(struct conn *c, struct msp_arg *a, bool (*sel)(const struct msp_rec *,
		       const struct msp_arg *), bool both, struct netd_err *err)
{
	struct msp_recs ports = { 0 }, allows = { 0 };
	struct msp_rec *pv = NULL, *av = NULL;
	size_t i, k, np = 0, na = 0;
	struct batch b;
	int rc;

	if ((rc = msp_read(c, false, NULL, 0, &ports, err)) < 0 ||
	    (both && (rc = msp_read(c, true, NULL, 0, &allows, err)) < 0))
		goto out;
	pv = malloc((ports.n + 1) * sizeof(*pv));
	av = malloc((ports.n + allows.n + 1) * sizeof(*av));
	if (!pv || !av) {
		rc = netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
		goto out;
	}
	for (i = 0; i < ports.n; i++) {
		const struct msp_rec *p = &ports.v[i];

		if (!sel(p, a))
			continue;
		pv[np++] = *p;
		if (!p->has_mac)
			continue;
		memset(&av[na], 0, sizeof(av[na]));
		av[na].allow = true;
		av[na].klen = ALLOW_KLEN;
		memcpy(av[na].key, p->key, IFNAME_LEN);
		memcpy(av[na].key + IFNAME_LEN, p->mac, 6);
		na++;
	}
	for (i = 0; i < allows.n; i++) {
		bool dup = false;

		if (!sel(&allows.v[i], a))
			continue;
		for (k = 0; k < na && !dup; k++)
			dup = !memcmp(av[k].key, allows.v[i].key, ALLOW_KLEN);
		if (!dup)
			av[na++] = allows.v[i];
	}
	if (!np && !na)
		goto out;
	if ((rc = batch_init(&b, c)) < 0) {
		rc = netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
		goto out;
	}
	b.family = NFPROTO_BRIDGE;
	if ((rc = msp_batch_chunks(&b, NFT_MSG_DELSETELEM, pv, np)) == 0 &&
	    (rc = msp_batch_chunks(&b, NFT_MSG_NEWSETELEM, av, na)) == 0 &&
	    (rc = msp_batch_chunks(&b, NFT_MSG_DELSETELEM, av, na)) == 0)
		rc = batch_send(c, &b, err);
	else
		rc = netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	batch_free(&b);
out:
	free(pv);
	free(av);
	free(ports.v);
	free(allows.v);
	return rc;
}

static int msp_del_op(struct conn *c, void *arg, struct netd_err *err)
{
	return msp_del_sel(c, arg, msp_sel_owner, false, err);
}

static int msp_gc_op(struct conn *c, void *arg, struct netd_err *err)
{
	return msp_del_sel(c, arg, msp_sel_gc, true, err);
}

static int msp_del_if_op(struct conn *c, void *arg, struct netd_err *err)
{
	struct msp_arg *a = arg;
	struct msp_rec port;
	struct batch b;
	int rc;

	rc = msp_get_if(c, a->ifname, &port, err);
	if (rc <= 0 || strcmp(port.owner, a->owner))
		return rc < 0 ? rc : 0;
	if ((rc = batch_init(&b, c)) < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	b.family = NFPROTO_BRIDGE;
	if ((rc = msp_batch_del_port(&b, &port)) == 0)
		rc = batch_send(c, &b, err);
	else
		rc = netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	batch_free(&b);
	return rc < 0 ? rc : 0;
}

int netd_nft_macspoof_add(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err)
{
	struct msp_arg a = { .ifname = host_ifname, .mac = mac, .owner = owner };
	char m[18];
	int rc;

	if (!netd_ifname_valid(host_ifname) || !mac)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: macspoofchk: bad interface name");
	if (!owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	mac_fmt(mac, m);
	snprintf(a.comment, sizeof(a.comment), "%s %s", owner, m);
	rc = locked_op(msp_add_op, &a, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "macspoofchk for %s (%s)", host_ifname, m);
	return rc;
}

int netd_nft_macspoof_has(const char *host_ifname, const uint8_t mac[6], const char *owner,
			  struct netd_err *err)
{
	struct msp_arg a = { .ifname = host_ifname, .mac = mac, .owner = owner };

	if (!netd_ifname_valid(host_ifname) || !mac)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: macspoofchk: bad interface name");
	if (!owner)
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	return locked_op(msp_has_op, &a, err);
}

int netd_nft_macspoof_del(const char *owner, struct netd_err *err)
{
	struct msp_arg a = { .owner = owner };
	int rc;

	if (!owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	rc = locked_op(msp_del_op, &a, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "removing macspoofchk of %s", owner);
	return rc;
}

int netd_nft_macspoof_del_if(const char *host_ifname, const char *owner, struct netd_err *err)
{
	struct msp_arg a = { .ifname = host_ifname, .owner = owner };
	int rc;

	if (!netd_ifname_valid(host_ifname))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: macspoofchk: bad interface name");
	if (!owner_ok(owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	rc = locked_op(msp_del_if_op, &a, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "removing macspoofchk of %s", host_ifname);
	return rc;
}

int netd_nft_macspoof_gc(const char *network, const char *const *keep, size_t n, struct netd_err *err)
{
	struct msp_arg a = { .keep = keep, .n = n };
	char tag[33];
	int rc;

	if (!network || !network[0])
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: gc needs a network name");
	netd_nft_owner(network, "", "", tag);
	memcpy(a.prefix, tag, 8);
	rc = locked_op(msp_gc_op, &a, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "macspoofchk gc of network %s", network);
	return rc;
}

/* ---- everything an owner has, in one call --------------------------------- */

static int del_owner_op(struct conn *c, void *arg, struct netd_err *err)
{
	const struct netd_nft_del_req *q = arg;
	struct recs all = { 0 };
	struct msp_recs ports = { 0 };
	struct rec old;
	struct msp_rec port;
	struct batch b;
	size_t i;
	int rc;

	if ((rc = batch_init(&b, c)) < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	for (i = 0; q->masq && q->addrs && rc == 0 && i < q->naddrs; i++) {
		const struct fam *f = fam_of(q->addrs[i].family);

		if (!f)
			continue;
		rc = get_elem(c, f, q->addrs[i].b, &old, err);
		rc = rc == 1 && !strcmp(old.owner, q->owner) ? masq_batch_del(&b, &old) : rc < 0 ? rc : 0;
	}
	if (q->masq && !q->addrs && rc == 0 && (rc = dump_all(c, false, &all, err)) == 0)
		for (i = 0; rc == 0 && i < all.n; i++)
			if (!strcmp(all.v[i].owner, q->owner))
				rc = masq_batch_del(&b, &all.v[i]);
	if (q->macspoof && q->host_ifname && rc == 0) {
		rc = msp_get_if(c, q->host_ifname, &port, err);
		rc = rc == 1 && !strcmp(port.owner, q->owner) ? msp_batch_del_port(&b, &port) : rc < 0 ? rc : 0;
	}
	if (q->macspoof && !q->host_ifname && rc == 0 && (rc = msp_read(c, false, NULL, 0, &ports, err)) == 0)
		for (i = 0; rc == 0 && i < ports.n; i++)
			if (!strcmp(ports.v[i].owner, q->owner))
				rc = msp_batch_del_port(&b, &ports.v[i]);
	if (rc == -ENOMEM && !netd_err_isset(err))
		netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	if (rc == 0)
		rc = batch_send(c, &b, err);	/* no-op when nothing was picked */
	batch_free(&b);
	free(all.v);
	free(ports.v);
	return rc < 0 ? rc : 0;
}

int netd_nft_del(const struct netd_nft_del_req *req, struct netd_err *err)
{
	size_t i;
	int rc;

	if (!req || !owner_ok(req->owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	if (req->macspoof && req->host_ifname && !netd_ifname_valid(req->host_ifname))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: macspoofchk: bad interface name");
	for (i = 0; req->addrs && i < req->naddrs; i++)
		if (!fam_of(req->addrs[i].family))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "nftables: address family not IPv4/IPv6");
	if (!req->masq && !req->macspoof)
		return 0;
	rc = locked_op(del_owner_op, (void *)req, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "removing nftables elements of %s", req->owner);
	return rc;
}
