/* nft_copy.c — copy of the plugins' tables and putting it back (nft_copy.h).
 *
 * The copy is the elements alone: the rules are fixed, so a table module's
 * description rebuilds them, and a comment carries everything the plugins
 * need to find their elements again (owner, subnet, MAC).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "netd/nft.h"
#include "netd/nft_copy.h"

#define NTABLES 2

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
