/* nft_copy.c — copy of the plugins' tables and putting it back (nft_copy.h).
 *
 * The copy is the elements alone: the rules are fixed, so a table module's
 * description rebuilds them, and a comment carries everything the plugins
 * need to find their elements again (owner, subnet, MAC).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>

#include "netd/nft.h"
#include "netd/nft_copy.h"
#include "netd/nft_log.h"

#define NTABLES 2
#define COMPACT_BYTES (256 * 1024)	/* the log folded into the copy file past this */

static const struct netd_nft_table *table_at(size_t i)
{
	return i == 0 ? netd_nft_masq_table() : netd_nft_macspoof_table();
}

static int table_of(const struct netd_nft_elem *e)
{
	for (size_t i = 0; i < NTABLES; i++) {
		const struct netd_nft_table *t = table_at(i);

		if (e->set >= t->sets && e->set < t->sets + t->nsets)
			return (int)i;
	}
	return -1;
}

static int read_all(struct netd_nft_conn *c, struct netd_nft_elems *out, struct netd_err *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < NTABLES; i++) {
		const struct netd_nft_table *t = table_at(i);

		for (size_t s = 0; rc == 0 && s < t->nsets; s++)
			rc = netd_nft_read_elems(c, t, &t->sets[s], NULL, 0, out, err);
	}
	return rc;
}

static int read_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	return read_all(c, arg, err);
}

int netd_nft_copy_read(struct netd_nft_elems *out, struct netd_err *err)
{
	out->n = 0;
	return netd_nft_locked(read_op, out, err);
}

/* Identity of an element: its set and key (range). Comments do not count:
 * an element a plugin re-made meanwhile is the plugin's. */
static int elem_cmp(const void *pa, const void *pb)
{
	const struct netd_nft_elem *a = pa, *b = pb;
	int d;

	if (a->set != b->set)
		return a->set < b->set ? -1 : 1;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	if ((d = memcmp(a->key, b->key, a->klen)))
		return d;
	if (a->kelen != b->kelen)
		return a->kelen < b->kelen ? -1 : 1;
	return memcmp(a->key_end, b->key_end, a->kelen);
}

int netd_nft_copy_event(struct netd_nft_elems *copy, const struct nlmsghdr *nlh)
{
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	struct netd_nft_elems ev = {0};
	int rc = 0;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    (type != NFT_MSG_NEWSETELEM && type != NFT_MSG_DELSETELEM))
		return 0;
	for (size_t t = 0; rc == 0 && t < NTABLES; t++)
		rc = netd_nft_elems_of_msg(nlh, table_at(t), &ev);
	for (size_t i = 0; rc > 0 && i < ev.n; i++) {
		size_t k;

		for (k = 0; k < copy->n && elem_cmp(&copy->v[k], &ev.v[i]); k++)
			;
		if (type == NFT_MSG_DELSETELEM) {
			if (k < copy->n)
				copy->v[k] = copy->v[--copy->n];
		} else if (k < copy->n) {
			copy->v[k] = ev.v[i];
		} else {
			struct netd_nft_elem *e = netd_nft_elems_push(copy);

			if (!e)
				rc = -ENOMEM;
			else
				*e = ev.v[i];
		}
	}
	free(ev.v);
	return rc < 0 ? rc : 0;
}

struct restore {
	const struct netd_nft_elems *copy;
	size_t restored;
};

static int batch_add(struct netd_nft_batch *b, const struct netd_nft_elem *e)
{
	return netd_nft_batch_elems(b, table_at((size_t)table_of(e)), NFT_MSG_NEWSETELEM, e, 1,
				    e->comment[0] ? e->comment : NULL);
}

/* After a refused batch: skeletons alone, then one batch per element, so
 * that one element the kernel will not take keeps none of the others out. */
static int restore_one_by_one(struct netd_nft_conn *c, const struct netd_nft_elems *miss, const bool fix[NTABLES],
			      struct restore *r, struct netd_err *err)
{
	struct netd_nft_batch b;
	int rc, first = 0;

	if ((rc = netd_nft_batch_init(&b, c)) < 0)
		return netd_nft_oom(err);
	for (size_t i = 0; rc == 0 && i < NTABLES; i++)
		if (fix[i])
			rc = netd_nft_batch_skeleton(&b, table_at(i));
	rc = rc < 0 ? netd_nft_oom(err) : netd_nft_batch_send(c, &b, err);
	netd_nft_batch_free(&b);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < miss->n; i++) {
		struct netd_err e1 = {0};

		if ((rc = netd_nft_batch_init(&b, c)) < 0)
			return netd_nft_oom(err);
		rc = batch_add(&b, &miss->v[i]) < 0 ? netd_nft_oom(&e1) : netd_nft_batch_send(c, &b, &e1);
		netd_nft_batch_free(&b);
		if (rc == 0) {
			r->restored++;
		} else if (!first) {
			first = rc;
			netd_err_set(err, rc, e1.code, "%s", e1.msg);
		}
	}
	return first;
}

static int restore_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	struct restore *r = arg;
	struct netd_nft_elems now = {0}, miss = {0};
	struct netd_nft_batch b;
	bool has[NTABLES] = {false}, fix[NTABLES] = {false}, any_fix = false;
	struct netd_err quiet = {0};
	int rc;

	if ((rc = read_all(c, &now, err)) < 0)
		goto out;
	if (now.n)
		qsort(now.v, now.n, sizeof(now.v[0]), elem_cmp);
	for (size_t i = 0; i < r->copy->n; i++) {
		const struct netd_nft_elem *e = &r->copy->v[i];
		struct netd_nft_elem *m;
		int t = table_of(e);

		if (t < 0)
			continue;
		has[t] = true;
		if (now.n && bsearch(e, now.v, now.n, sizeof(now.v[0]), elem_cmp))
			continue;
		if (!(m = netd_nft_elems_push(&miss))) {
			rc = netd_nft_oom(err);
			goto out;
		}
		*m = *e;
	}
	for (size_t i = 0; i < NTABLES; i++) {
		if (has[i] && (rc = netd_nft_rules_ok(c, table_at(i), err)) < 0)
			goto out;
		fix[i] = has[i] && rc == 0;
		any_fix |= fix[i];
	}
	rc = 0;
	if (!miss.n && !any_fix)
		goto out;
	if ((rc = netd_nft_batch_init(&b, c)) < 0) {
		rc = netd_nft_oom(err);
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < NTABLES; i++)
		if (fix[i])
			rc = netd_nft_batch_skeleton(&b, table_at(i));
	for (size_t i = 0; rc == 0 && i < miss.n; i++)
		rc = batch_add(&b, &miss.v[i]);
	rc = rc < 0 ? netd_nft_oom(err) : netd_nft_batch_send(c, &b, &quiet);
	netd_nft_batch_free(&b);
	if (rc == 0)
		r->restored = miss.n;
	else if (rc != -ENOMEM)
		rc = restore_one_by_one(c, &miss, fix, r, err);
	else
		netd_err_set(err, rc, quiet.code, "%s", quiet.msg);
out:
	free(now.v);
	free(miss.v);
	return rc;
}

int netd_nft_copy_restore(const struct netd_nft_elems *copy, size_t *restored, struct netd_err *err)
{
	struct restore r = {copy, 0};
	int rc = netd_nft_locked(restore_op, &r, err);

	*restored = r.restored;
	return rc;
}

/* ---- the record (nft_log.h) ---------------------------------------------- */

static unsigned table_flag(int t)
{
	return t == 0 ? NETD_NFT_LOG_MASQ : NETD_NFT_LOG_MACSPOOF;
}

static void drop_owner(struct netd_nft_elems *copy, const char *owner, unsigned tables)
{
	char o[65];
	size_t i = 0;

	while (i < copy->n) {
		int t = table_of(&copy->v[i]);

		netd_nft_elem_owner(&copy->v[i], o);
		if (t >= 0 && (tables & table_flag(t)) && !strcmp(o, owner))
			copy->v[i] = copy->v[--copy->n];
		else
			i++;
	}
}

/* A GC record: the owners of one network but the kept ones are gone. */
static int drop_gc(struct netd_nft_elems *copy, const struct nlmsghdr *nlh)
{
	const char *p = mnl_nlmsg_get_payload(nlh), *end = p + (nlh->nlmsg_len - NLMSG_HDRLEN);
	struct netd_nft_gc g = {.tables = nlh->nlmsg_flags};
	const char **keep = NULL;
	size_t cap = 0, i = 0;
	char o[65];

	if (end - p < (ptrdiff_t)sizeof(g.prefix) || p[sizeof(g.prefix) - 1] || end[-1])
		return 0;	/* not one of ours: ignored */
	memcpy(g.prefix, p, sizeof(g.prefix));
	for (p += sizeof(g.prefix); p < end; p += strlen(p) + 1) {
		if (g.n == cap) {
			const char **v = realloc(keep, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v) {
				free(keep);
				return -ENOMEM;
			}
			keep = v;
		}
		keep[g.n++] = p;
	}
	g.keep = keep;
	while (i < copy->n) {
		int t = table_of(&copy->v[i]);

		netd_nft_elem_owner(&copy->v[i], o);
		if (t >= 0 && (g.tables & table_flag(t)) && netd_nft_gc_picks(&g, o))
			copy->v[i] = copy->v[--copy->n];
		else
			i++;
	}
	free(keep);
	return 0;
}

/* The records of buf[0..len), in order: what the plugins did since. */
static int replay(struct netd_nft_elems *copy, const char *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	int left = (int)len, rc;

	for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type == NETD_NFT_LOG_GONE) {
			const char *owner = mnl_nlmsg_get_payload(nlh);
			size_t n = nlh->nlmsg_len - NLMSG_HDRLEN;

			if (n && n <= 65 && !owner[n - 1])
				drop_owner(copy, owner, nlh->nlmsg_flags);
		} else if (nlh->nlmsg_type == NETD_NFT_LOG_GC) {
			if ((rc = drop_gc(copy, nlh)) < 0)
				return rc;
		} else if ((rc = netd_nft_copy_event(copy, nlh)) < 0) {
			return rc;
		}
	}
	return 0;
}

/* The copy file: every element once, so appended without a search. */
static int load(struct netd_nft_elems *copy, const char *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	int left = (int)len;

	for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
		for (size_t t = 0; t < NTABLES; t++)
			if (netd_nft_elems_of_msg(nlh, table_at(t), copy) < 0)
				return -ENOMEM;
	return 0;
}

/* The copy as the messages that would make it: one per element, each with
 * its own comment. */
static int commit(const struct netd_nft_log_files *f, const struct netd_nft_elems *copy, struct netd_err *err)
{
	struct netd_nft_conn none = {0};
	struct netd_nft_batch b;
	int rc = netd_nft_batch_init(&b, &none);

	for (size_t i = 0; rc == 0 && i < copy->n; i++)
		if (table_of(&copy->v[i]) >= 0)
			rc = batch_add(&b, &copy->v[i]);
	rc = rc < 0 ? netd_nft_oom(err) : netd_nft_log_commit(f, b.buf, b.len, err);
	netd_nft_batch_free(&b);
	return rc;
}

struct sync {
	struct netd_nft_copy *k;
	bool restore;
	size_t restored;
};

static int sync_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	struct sync *s = arg;
	struct netd_nft_copy *k = s->k;
	struct netd_nft_log_files f;
	char *buf = NULL;
	size_t len = 0;
	bool fold = false;
	int rc;

	if ((rc = netd_nft_log_files(c, &f)) < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: naming the plugins' record: %s",
				    strerror(-rc));
	if (!k->loaded || access(f.copy, F_OK) < 0) {
		/* at start, or the record ended (netd away for long): the copy
		 * file and the log since, else what the tables hold now */
		k->loaded = false;
		k->elems.n = 0;
		k->log_off = 0;
		rc = netd_nft_log_read(f.copy, 0, &buf, &len);
		if (rc == 0)
			rc = load(&k->elems, buf, len) < 0 ? netd_nft_oom(err) : 0;
		else if (rc == -ENOENT)
			rc = read_all(c, &k->elems, err);
		else
			netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: reading %s: %s", f.copy, strerror(-rc));
		free(buf);
		buf = NULL;
		if (rc < 0)
			return rc;
		fold = true;
	}
	rc = netd_nft_log_read(f.log, k->log_off, &buf, &len);
	if (rc == -ENOENT)
		rc = 0;
	if (rc < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: reading %s: %s", f.log, strerror(-rc));
	rc = replay(&k->elems, buf, len);
	free(buf);
	if (rc < 0)
		return netd_nft_oom(err);
	k->log_off += len;
	if (fold || k->log_off > COMPACT_BYTES) {
		if ((rc = commit(&f, &k->elems, err)) < 0)
			return rc;
		k->log_off = 0;
		k->loaded = true;
	}
	if (s->restore) {
		struct restore r = {&k->elems, 0};

		rc = restore_op(c, &r, err);
		s->restored = r.restored;
	}
	return rc;
}

int netd_nft_copy_sync(struct netd_nft_copy *k, bool restore, size_t *restored, struct netd_err *err)
{
	struct sync s = {k, restore, 0};
	int rc = netd_nft_locked(sync_op, &s, err);

	*restored = s.restored;
	return rc;
}
