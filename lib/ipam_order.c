/* ipam_order.c — the allocation order, without the store: which range
 * holds an address, what may be handed out, the next usable address after a
 * cursor (round robin over a set's ranges). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/ipam.h"
#include "ipam_internal.h"

static bool in_bounds(const struct netd_ipam_range *r, const struct netd_addr *a)
{
	return a->family == r->subnet.addr.family && netd_addr_cmp(a, &r->start) >= 0 &&
	       netd_addr_cmp(a, &r->end) <= 0;
}

int netd_ipam_find_range(const struct netd_ipam_rangeset *s, const struct netd_addr *a)
{
	for (size_t i = 0; i < s->n_ranges; i++)
		if (in_bounds(&s->ranges[i], a))
			return (int)i;
	return -1;
}

int netd_ipam_find_set(const struct netd_ipam_conf *c, const struct netd_addr *a)
{
	for (size_t i = 0; i < c->n_sets; i++)
		if (netd_ipam_find_range(&c->sets[i], a) >= 0)
			return (int)i;
	return -1;
}

const struct netd_prefix *netd_ipam_excluded(const struct netd_ipam_conf *c, const struct netd_addr *a)
{
	for (size_t i = 0; i < c->n_exclude; i++)
		if (netd_prefix_contains(&c->exclude[i], a))
			return &c->exclude[i];
	return NULL;
}

bool netd_ipam_special(const struct netd_ipam_range *r, const struct netd_addr *a)
{
	struct netd_addr net = netd_prefix_first(&r->subnet);

	if (netd_addr_eq(a, &r->gateway) || netd_addr_eq(a, &net))
		return true;
	if (a->family == AF_INET) {
		struct netd_addr bcast = netd_prefix_last(&r->subnet);

		return netd_addr_eq(a, &bcast);
	}
	return false;
}

bool netd_ipam_usable(const struct netd_ipam_conf *c, const struct netd_ipam_range *r,
		      const struct netd_addr *a)
{
	return in_bounds(r, a) && !netd_ipam_special(r, a) && !netd_ipam_excluded(c, a);
}

int netd_ipam_next(const struct netd_ipam_conf *c, size_t set, const struct netd_addr *cursor,
		   struct netd_addr *out)
{
	const struct netd_ipam_rangeset *s;
	struct netd_addr cur;
	size_t ri, moves = 0;
	int r;

	if (set >= c->n_sets)
		return -EINVAL;
	s = &c->sets[set];
	r = cursor ? netd_ipam_find_range(s, cursor) : -1;
	if (r < 0) {
		ri = 0;
		cur = s->ranges[0].start;
	} else {
		ri = (size_t)r;
		cur = *cursor;
		goto step;
	}
	/* Each pass either returns, or moves forward within a range (by one over
	 * a special address, or over a whole excluded prefix), or moves to the
	 * next range; two full turns without a usable address means none. */
	for (;;) {
		const struct netd_ipam_range *rg = &s->ranges[ri];
		const struct netd_prefix *ex;

		if (netd_ipam_special(rg, &cur))
			goto step;
		if ((ex = netd_ipam_excluded(c, &cur))) {
			struct netd_addr last = netd_prefix_last(ex);

			if (netd_addr_cmp(&last, &rg->end) >= 0)
				goto next_range;
			netd_addr_add(&last, 1, &cur);
			continue;
		}
		*out = cur;
		return 0;
step:
		if (!netd_addr_eq(&cur, &s->ranges[ri].end) && netd_addr_add(&cur, 1, &cur) == 0)
			continue;
next_range:
		if (++moves > 2 * s->n_ranges)
			return -ENOSPC;
		ri = (ri + 1) % s->n_ranges;
		cur = s->ranges[ri].start;
	}
}

const char *netd_ipam_set_str(const struct netd_ipam_rangeset *s, char *buf, size_t len)
{
	char p[NETD_PREFIX_STRLEN];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_ranges && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? "," : "",
				 netd_prefix_str(&s->ranges[i].subnet, p));

		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}
