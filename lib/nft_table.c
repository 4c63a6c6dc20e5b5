/* nft_table.c — a table description turned into netlink: batches, the
 * skeleton (table, chains, sets, fixed rules), element messages, element
 * reads and the fixed-rule drift check. libnftnl builds the messages,
 * nft_conn.c carries them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "netd/nft_log.h"
#include "netd/nft_table.h"
#include "netd/util.h"

#define DUMP_RETRIES 5
#define NFT_BYTEORDER_HOST 1	/* nft's enum byteorder, in set userdata */

static const char *family_name(uint16_t f)
{
	return f == NFPROTO_BRIDGE ? "bridge" : f == NFPROTO_IPV4 ? "ip" : f == NFPROTO_IPV6 ? "ip6" : "inet";
}

/* ---- batches ------------------------------------------------------------- */

static int batch_reserve(struct netd_nft_batch *b, size_t need)
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

int netd_nft_batch_init(struct netd_nft_batch *b, struct netd_nft_conn *c)
{
	struct nlmsghdr *nlh;

	memset(b, 0, sizeof(*b));
	if (batch_reserve(b, 4096) < 0)
		return -ENOMEM;
	b->seq_begin = ++c->seq;
	b->seq = b->seq_begin;
	nlh = nftnl_batch_begin(b->buf, b->seq_begin);
	b->len = NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

void netd_nft_batch_free(struct netd_nft_batch *b)
{
	free(b->buf);
	free(b->what);
	memset(b, 0, sizeof(*b));
}

/* Start a message with room for `room` payload bytes; NULL on ENOMEM. */
static struct nlmsghdr *batch_msg(struct netd_nft_batch *b, uint16_t family, uint16_t type, uint16_t flags,
				  size_t room, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static struct nlmsghdr *batch_msg(struct netd_nft_batch *b, uint16_t family, uint16_t type, uint16_t flags,
				  size_t room, const char *fmt, ...)
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
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, family, flags | NLM_F_ACK, ++b->seq);
}

static void batch_msg_done(struct netd_nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

int netd_nft_batch_send(struct netd_nft_conn *c, struct netd_nft_batch *b, struct netd_err *err)
{
	struct netd_nft_wait w = { .seq_lo = b->seq_begin, .seq_last = b->seq };
	struct nlmsghdr *nlh;
	const char *what;
	int rc;

	if (b->seq == b->seq_begin)
		return 0;	/* nothing to do */
	if (batch_reserve(b, 64) < 0)
		return netd_nft_oom(err);
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
	rc = netd_nft_conn_wait(c, &w);
	if (rc < 0)
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: reading batch result: %s",
				    strerror(-rc));
	if (!w.error)
		return b->logged ? netd_nft_log_append(c, b->buf, b->len, err) : 0;
	what = w.error_seq > b->seq_begin && w.error_seq - b->seq_begin - 1 < b->nwhat
		       ? b->what[w.error_seq - b->seq_begin - 1] : "batch";
	rc = netd_err_set(err, w.error, NETD_ERR_KERNEL, "nftables: %s: %s%s%s%s", what, strerror(-w.error),
			  w.ext[0] ? ": " : "", w.ext,
			  w.error_seq == b->seq_begin ? " (is nf_tables available, and CAP_NET_ADMIN held?)" : "");
	if (w.ext[0])
		netd_err_details(err, "%s", w.ext);
	return rc;
}

/* ---- rules and expressions ------------------------------------------------ */

struct nftnl_rule *netd_nft_rule_new(const struct netd_nft_table *t, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (r) {
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, t->family);
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t->name);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	}
	return r;
}

void netd_nft_rule_add(struct nftnl_rule *r, struct nftnl_expr *e, int *rc)
{
	if (!e)
		*rc = -ENOMEM;
	else
		nftnl_rule_add_expr(r, e);
}

struct nftnl_rule *netd_nft_rule_done(struct nftnl_rule *r, int rc)
{
	if (r && rc) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* ---- skeleton ------------------------------------------------------------ */

static struct nftnl_set *set_obj(const struct netd_nft_table *t, const struct netd_nft_set *s)
{
	struct nftnl_set *o = nftnl_set_alloc();

	if (o) {
		nftnl_set_set_u32(o, NFTNL_SET_FAMILY, t->family);
		nftnl_set_set_str(o, NFTNL_SET_TABLE, t->name);
		nftnl_set_set_str(o, NFTNL_SET_NAME, s->name);
	}
	return o;
}

/* Same attributes every time: the kernel accepts NEWSET on an existing set
 * only if they match. */
static struct nftnl_set *build_set(const struct netd_nft_table *t, size_t i)
{
	const struct netd_nft_set *s = &t->sets[i];
	struct nftnl_set *o = set_obj(t, s);
	size_t nf = strnlen((const char *)s->concat, sizeof(s->concat));

	if (!o)
		return NULL;
	if (s->host_order_key) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(64);

		if (!u || !nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_HOST)) {
			if (u)
				nftnl_udata_buf_free(u);
			nftnl_set_free(o);
			return NULL;
		}
		nftnl_set_set_data(o, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	nftnl_set_set_u32(o, NFTNL_SET_KEY_TYPE, s->key_type);
	nftnl_set_set_u32(o, NFTNL_SET_KEY_LEN, s->key_len);
	nftnl_set_set_u32(o, NFTNL_SET_FLAGS, s->flags);
	if (s->data_len) {
		nftnl_set_set_u32(o, NFTNL_SET_DATA_TYPE, s->data_type);
		nftnl_set_set_u32(o, NFTNL_SET_DATA_LEN, s->data_len);
	}
	if (nf)
		nftnl_set_set_data(o, NFTNL_SET_DESC_CONCAT, s->concat, (uint32_t)nf);
	nftnl_set_set_u32(o, NFTNL_SET_ID, (uint32_t)i + 1);
	return o;
}

int netd_nft_batch_skeleton(struct netd_nft_batch *b, const struct netd_nft_table *t)
{
	const char *fam = family_name(t->family);
	struct nlmsghdr *nlh;
	size_t i;
	int k;

	{
		struct nftnl_table *o = nftnl_table_alloc();

		if (!o)
			return -ENOMEM;
		nftnl_table_set_u32(o, NFTNL_TABLE_FAMILY, t->family);
		nftnl_table_set_str(o, NFTNL_TABLE_NAME, t->name);
		nlh = batch_msg(b, t->family, NFT_MSG_NEWTABLE, NLM_F_CREATE, 256, "create table %s %s", fam,
				t->name);
		if (nlh) {
			nftnl_table_nlmsg_build_payload(nlh, o);
			batch_msg_done(b, nlh);
		}
		nftnl_table_free(o);
		if (!nlh)
			return -ENOMEM;
	}
	for (i = 0; i < t->nchains; i++) {
		const struct netd_nft_chain *ch = &t->chains[i];
		struct nftnl_chain *o = nftnl_chain_alloc();

		if (!o)
			return -ENOMEM;
		nftnl_chain_set_u32(o, NFTNL_CHAIN_FAMILY, t->family);
		nftnl_chain_set_str(o, NFTNL_CHAIN_TABLE, t->name);
		nftnl_chain_set_str(o, NFTNL_CHAIN_NAME, ch->name);
		if (ch->type) {
			nftnl_chain_set_str(o, NFTNL_CHAIN_TYPE, ch->type);
			nftnl_chain_set_u32(o, NFTNL_CHAIN_HOOKNUM, (uint32_t)ch->hook);
			nftnl_chain_set_s32(o, NFTNL_CHAIN_PRIO, ch->prio);
			nftnl_chain_set_u32(o, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		}
		nlh = batch_msg(b, t->family, NFT_MSG_NEWCHAIN, NLM_F_CREATE, 512, "create chain %s", ch->name);
		if (nlh) {
			nftnl_chain_nlmsg_build_payload(nlh, o);
			batch_msg_done(b, nlh);
		}
		nftnl_chain_free(o);
		if (!nlh)
			return -ENOMEM;
	}
	for (i = 0; i < t->nsets; i++) {
		struct nftnl_set *o = build_set(t, i);

		if (!o)
			return -ENOMEM;
		nlh = batch_msg(b, t->family, NFT_MSG_NEWSET, NLM_F_CREATE, 512, "create set %s", t->sets[i].name);
		if (nlh) {
			nftnl_set_nlmsg_build_payload(nlh, o);
			batch_msg_done(b, nlh);
		}
		nftnl_set_free(o);
		if (!nlh)
			return -ENOMEM;
	}
	for (i = 0; i < t->nchains; i++) {
		const struct netd_nft_chain *ch = &t->chains[i];
		struct nftnl_rule *flush;

		if (!ch->type)
			continue;
		if (!(flush = netd_nft_rule_new(t, ch->name)))
			return -ENOMEM;
		nlh = batch_msg(b, t->family, NFT_MSG_DELRULE, 0, 256, "replace rules of chain %s", ch->name);
		if (nlh) {
			nftnl_rule_nlmsg_build_payload(nlh, flush);
			batch_msg_done(b, nlh);
		}
		nftnl_rule_free(flush);
		for (k = 0; nlh && k < ch->nrules; k++) {
			struct nftnl_rule *r = ch->rule(t, k);

			if (!r)
				return -ENOMEM;
			nlh = batch_msg(b, t->family, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, 1024,
					"add rule to chain %s", ch->name);
			if (nlh) {
				nftnl_rule_nlmsg_build_payload(nlh, r);
				batch_msg_done(b, nlh);
			}
			nftnl_rule_free(r);
		}
		if (!nlh)
			return -ENOMEM;
	}
	return 0;
}

/* ---- elements ------------------------------------------------------------ */

struct netd_nft_elem *netd_nft_elems_push(struct netd_nft_elems *l)
{
	struct netd_nft_elem *v = netd_grow(l->v, &l->cap, l->n, sizeof(*v), 32);

	if (!v)
		return NULL;
	l->v = v;
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

void netd_nft_elem_owner(const struct netd_nft_elem *e, char out[65])
{
	size_t n = strcspn(e->comment, " ");

	snprintf(out, 65, "%.*s", (int)(n < 64 ? n : 64), e->comment);
}

int netd_nft_batch_owned(struct netd_nft_batch *b, const struct netd_nft_elems *l, const char *owner,
			 int (*fn)(struct netd_nft_batch *b, const struct netd_nft_elem *e))
{
	char o[65];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < l->n; i++) {
		netd_nft_elem_owner(&l->v[i], o);
		if (!strcmp(o, owner))
			rc = fn(b, &l->v[i]);
	}
	return rc;
}

int netd_nft_oom(struct netd_err *err)
{
	return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
}

static struct nftnl_set_elem *elem_obj(const struct netd_nft_elem *r, const char *comment)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, r->key, r->klen);
	if (r->kelen)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, r->key_end, r->kelen);
	if (r->dlen)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, r->data, r->dlen);
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

/* One message for v[0..n), n <= NETD_NFT_ELEMS_PER_MSG. */
static int batch_elems_msg(struct netd_nft_batch *b, const struct netd_nft_table *t, uint16_t type,
			   const struct netd_nft_elem *v, size_t n, const char *comment)
{
	const struct netd_nft_set *set = v[0].set;
	struct nftnl_set *s = set_obj(t, set);
	struct nlmsghdr *nlh;
	char key[64] = "";
	size_t i;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct nftnl_set_elem *e = elem_obj(&v[i], comment);

		if (!e) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elem_add(s, e);
	}
	if (set->key_str)
		set->key_str(v[0].key, key, sizeof(key));
	nlh = batch_msg(b, t->family, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, n * 256 + 512,
			"%s %s%s in set %s", type == NFT_MSG_NEWSETELEM ? "add" : "delete", key,
			n > 1 ? " (and others)" : "", set->name);
	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_msg_done(b, nlh);
		b->logged |= netd_nft_log_wants(t);
	}
	nftnl_set_free(s);
	return nlh ? 0 : -ENOMEM;
}

int netd_nft_batch_flush_set(struct netd_nft_batch *b, const struct netd_nft_table *t,
			     const struct netd_nft_set *set)
{
	struct nftnl_set *s = set_obj(t, set);
	struct nlmsghdr *nlh;

	if (!s)
		return -ENOMEM;
	nlh = batch_msg(b, t->family, NFT_MSG_DELSETELEM, 0, 512, "flush set %s", set->name);
	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_msg_done(b, nlh);
	}
	nftnl_set_free(s);
	return nlh ? 0 : -ENOMEM;
}

int netd_nft_batch_del_table(struct netd_nft_batch *b, const struct netd_nft_table *t)
{
	struct nftnl_table *o = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!o)
		return -ENOMEM;
	nftnl_table_set_u32(o, NFTNL_TABLE_FAMILY, t->family);
	nftnl_table_set_str(o, NFTNL_TABLE_NAME, t->name);
	nlh = batch_msg(b, t->family, NFT_MSG_DELTABLE, 0, 256, "delete table %s %s", family_name(t->family),
			t->name);
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, o);
		batch_msg_done(b, nlh);
	}
	nftnl_table_free(o);
	return nlh ? 0 : -ENOMEM;
}

int netd_nft_batch_elems(struct netd_nft_batch *b, const struct netd_nft_table *t, uint16_t type,
			 const struct netd_nft_elem *v, size_t n, const char *comment)
{
	size_t i, k;
	int rc = 0;

	/* one ack per message: thousands in one would overflow the receive buffer */
	for (i = 0; rc == 0 && i < n; i += k) {
		k = n - i < NETD_NFT_ELEMS_PER_MSG ? n - i : NETD_NFT_ELEMS_PER_MSG;
		rc = batch_elems_msg(b, t, type, v + i, k, comment);
	}
	return rc;
}

/* ---- reads --------------------------------------------------------------- */

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

static int elem_from_obj(struct netd_nft_elem *r, struct nftnl_set_elem *e)
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
		snprintf(r->comment, sizeof(r->comment), "%s", comment);
	return 0;
}

struct collect {
	const struct netd_nft_set *set;
	struct netd_nft_elems *out;
};

/* Every element of a set-element message into out; other messages are
 * ignored. <0 stops (an allocation failed). */
static int collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collect *col = data;
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
	while (!rc && (e = nftnl_set_elems_iter_next(it))) {
		struct netd_nft_elem *r = netd_nft_elems_push(col->out);

		if (!r) {
			rc = -1;
			break;
		}
		r->set = col->set;
		if (elem_from_obj(r, e) < 0)
			col->out->n--;
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return rc;
}

int netd_nft_elems_of_msg(const struct nlmsghdr *nlh, const struct netd_nft_table *t, struct netd_nft_elems *out)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct collect col = {NULL, out};
	const char *table, *name;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0 || nftnl_set_get_u32(s, NFTNL_SET_FAMILY) != t->family ||
	    !(table = nftnl_set_get_str(s, NFTNL_SET_TABLE)) || strcmp(table, t->name) ||
	    !(name = nftnl_set_get_str(s, NFTNL_SET_NAME))) {
		nftnl_set_free(s);
		return 0;
	}
	for (size_t i = 0; i < t->nsets; i++)
		if (!strcmp(t->sets[i].name, name))
			col.set = &t->sets[i];
	nftnl_set_free(s);
	if (col.set)
		rc = collect_cb(nlh, &col) < 0 ? -ENOMEM : 1;
	return rc;
}

int netd_nft_read_elems(struct netd_nft_conn *c, const struct netd_nft_table *t, const struct netd_nft_set *set,
			const uint8_t *key, uint32_t klen, struct netd_nft_elems *out, struct netd_err *err)
{
	int tries;

	for (tries = 0; tries < DUMP_RETRIES; tries++) {
		size_t start = out->n;
		struct collect col = { set, out };
		struct netd_nft_wait w = { .dump = !key, .cb = collect_cb, .data = &col };
		struct nftnl_set *s = set_obj(t, set);
		char buf[1024];
		struct nlmsghdr *nlh;
		int rc;

		if (!s)
			return netd_nft_oom(err);
		if (key) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();

			if (!e) {
				nftnl_set_free(s);
				return netd_nft_oom(err);
			}
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, klen);
			nftnl_set_elem_add(s, e);
		}
		w.seq_lo = w.seq_last = ++c->seq;
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, t->family, (key ? 0 : NLM_F_DUMP) | NLM_F_ACK,
					    w.seq_lo);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		rc = netd_nft_conn_ask(c, nlh, &w);
		if (rc == 0 && w.error == -ENOENT) {
			out->n = start;
			return 0;
		}
		if (rc == 0 && w.error)
			rc = w.error;
		if (rc < 0)
			return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: reading set %s: %s", set->name,
					    strerror(-rc));
		if (!w.intr)
			return 0;
		out->n = start;	/* the ruleset changed under the dump: again */
	}
	return netd_err_set(err, -EAGAIN, CNI_ERR_TRY_LATER, "nftables: set listing kept being interrupted");
}

/* ---- fixed-rule drift ----------------------------------------------------
 *
 * A rule's signature is libnftnl's rendering of its expressions (the first
 * line, with table, chain and handle, cut off): what the kernel reports is
 * compared with what the chain's builder makes, so a flushed or edited chain
 * is noticed. */

#define SIG_MAX 640

struct rules_seen {
	char (*sig)[SIG_MAX];
	int max, n;
};

static void rule_sig(const struct nftnl_rule *r, char *out)
{
	char buf[2048];
	const char *p;

	buf[0] = 0;
	nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
	p = strchr(buf, '\n');
	snprintf(out, SIG_MAX, "%s", p ? p : buf);
}

static int rules_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rules_seen *seen = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return -1;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		if (seen->n < seen->max)
			rule_sig(r, seen->sig[seen->n]);
		seen->n++;
	}
	nftnl_rule_free(r);
	return 0;
}

static int chain_ok(struct netd_nft_conn *c, const struct netd_nft_table *t, const struct netd_nft_chain *ch,
		    struct netd_err *err)
{
	struct rules_seen seen = { calloc((size_t)ch->nrules + 1, SIG_MAX), ch->nrules + 1, 0 };
	struct netd_nft_wait w = { .dump = true, .cb = rules_cb, .data = &seen };
	struct nftnl_rule *q = netd_nft_rule_new(t, ch->name);
	char buf[512], want[SIG_MAX];
	struct nlmsghdr *nlh;
	int rc, i;

	if (!seen.sig || !q) {
		free(seen.sig);
		if (q)
			nftnl_rule_free(q);
		return netd_nft_oom(err);
	}
	w.seq_lo = w.seq_last = ++c->seq;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, t->family, NLM_F_DUMP | NLM_F_ACK, w.seq_lo);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	nftnl_rule_free(q);
	rc = netd_nft_conn_ask(c, nlh, &w);
	if (rc == 0 && w.error && w.error != -ENOENT)
		rc = w.error;
	if (rc < 0) {
		free(seen.sig);
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: listing chain %s: %s", ch->name,
				    strerror(-rc));
	}
	rc = !w.error && !w.intr && seen.n == ch->nrules;
	for (i = 0; rc == 1 && i < ch->nrules; i++) {
		struct nftnl_rule *r = ch->rule(t, i);

		if (!r) {
			rc = netd_nft_oom(err);
			break;
		}
		rule_sig(r, want);
		nftnl_rule_free(r);
		rc = !strcmp(want, seen.sig[i]);
	}
	free(seen.sig);
	return rc;
}

int netd_nft_rules_ok(struct netd_nft_conn *c, const struct netd_nft_table *t, struct netd_err *err)
{
	size_t i;
	int rc = 1;

	for (i = 0; rc == 1 && i < t->nchains; i++)
		if (t->chains[i].type)	/* a regular chain's rules are not ours */
			rc = chain_ok(c, t, &t->chains[i], err);
	return rc;
}
