/* pub.c — the published-port registry (pub.h has the rules).
 *
 * Entries hang in buckets by (family, protocol, host port), so a check or
 * registration looks at the few entries sharing its port, never at all of
 * them: the cost of one more mapping does not grow with how many exist. Each
 * endpoint keeps the list of entries it holds, so unregistering is as cheap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pub.h"
#include "netd/util.h"

#define NBUCKETS 16384
#define NEPS 4096

struct holder {
	char *ep_id;
	struct netd_addr to;
	struct holder *next;
};

struct entry {
	int af;
	uint8_t proto;
	uint16_t host_port, container_port;
	struct netd_addr host_ip;	/* family 0: any address of af */
	char *cid, *name;
	struct holder *holders;		/* registration order; the first is the target */
	struct entry *next;		/* bucket chain */
};

struct epreg {
	char *id;
	struct entry **v;
	size_t n;
	struct epreg *next;
};

struct netd_pub {
	struct entry *b[NBUCKETS];
	struct epreg *eps[NEPS];
	size_t n_entries;
};

/* A mapping of one endpoint in one family: what would become an entry. */
struct cand {
	int af;
	uint8_t proto;
	uint16_t host_port, container_port;
	struct netd_addr host_ip;
	struct netd_addr to;
	size_t idx;			/* index in the request, for messages */
};

static size_t bucket(int af, uint8_t proto, uint16_t port)
{
	return ((size_t)port * 31 + proto * 7 + (af == AF_INET6)) % NBUCKETS;
}

static size_t str_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % NEPS;
}

struct netd_pub *netd_pub_new(void)
{
	return calloc(1, sizeof(struct netd_pub));
}

static void entry_free(struct entry *e)
{
	struct holder *h, *hn;

	for (h = e->holders; h; h = hn) {
		hn = h->next;
		free(h->ep_id);
		free(h);
	}
	free(e->cid);
	free(e->name);
	free(e);
}

void netd_pub_free(struct netd_pub *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct entry *e = p->b[i], *en; e; e = en) {
			en = e->next;
			entry_free(e);
		}
	for (size_t i = 0; i < NEPS; i++)
		for (struct epreg *r = p->eps[i], *rn; r; r = rn) {
			rn = r->next;
			free(r->id);
			free(r->v);
			free(r);
		}
	free(p);
}

void netd_pub_delta_free(struct netd_pub_delta *d)
{
	free(d->del);
	free(d->add);
	memset(d, 0, sizeof(*d));
}

static int delta_push(struct netd_pub_elem **v, size_t *n, size_t *cap, const struct netd_pub_elem *e)
{
	struct netd_pub_elem *nv = netd_grow(*v, cap, *n, sizeof(*nv), 16);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	(*v)[(*n)++] = *e;
	return 0;
}

static struct netd_pub_elem elem_of(const struct entry *e)
{
	return (struct netd_pub_elem){.af = e->af, .proto = e->proto, .host_port = e->host_port,
				      .host_ip = e->host_ip, .to = e->holders->to,
				      .to_port = e->container_port};
}

/* Do two host addresses of one family overlap? (family 0 = any) */
static bool ip_overlap(const struct netd_addr *a, const struct netd_addr *b)
{
	return !a->family || !b->family || netd_addr_eq(a, b);
}

static bool ip_same(const struct netd_addr *a, const struct netd_addr *b)
{
	return a->family == b->family && (!a->family || netd_addr_eq(a, b));
}

/* The endpoint's mappings, one per family they apply to. *out malloc'd. */
static int cands_of(const struct netd_pub_ep *ep, struct cand **out, size_t *n)
{
	struct cand *v = malloc((ep->n_maps * 2 + 1) * sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ep->n_maps; i++) {
		const struct netd_portmap *m = &ep->maps[i];

		for (int f = 0; f < 2; f++) {
			int af = f ? AF_INET6 : AF_INET;
			const struct netd_addr *to = f ? &ep->v6 : &ep->v4;

			if (!to->family || !netd_portmap_has_family(m, af))
				continue;
			v[k] = (struct cand){.af = af, .proto = m->proto, .host_port = m->host_port,
					     .container_port = m->container_port, .to = *to, .idx = i};
			if (m->host_ip.family && !netd_addr_is_zero(&m->host_ip))
				v[k].host_ip = m->host_ip;
			k++;
		}
	}
	*out = v;
	*n = k;
	return 0;
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->af != b->af)
		return a->af - b->af;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	if (a->host_port != b->host_port)
		return a->host_port - b->host_port;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static const char *cand_str(const struct cand *c, char *buf)
{
	struct netd_portmap m = {.host_port = c->host_port, .container_port = c->container_port,
				 .proto = c->proto, .host_ip = c->host_ip};

	if (!m.host_ip.family) {
		m.host_ip.family = c->af;	/* zero address: "0.0.0.0" / "::" */
		memset(m.host_ip.b, 0, sizeof(m.host_ip.b));
	}
	return netd_portmap_str(&m, buf);
}

static bool only_held_by(const struct entry *e, const char *ep_id)
{
	for (const struct holder *h = e->holders; h; h = h->next)
		if (strcmp(h->ep_id, ep_id))
			return false;
	return true;
}

int netd_pub_check(const struct netd_pub *p, const struct netd_pub_ep *ep, struct netd_err *err)
{
	char a[NETD_PORTMAP_STRLEN], b[NETD_PORTMAP_STRLEN];
	struct cand *v;
	size_t n, i, j;
	int rc = 0;

	if (cands_of(ep, &v, &n) < 0)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	/* inside the request: sorted, overlaps sit next to each other by port */
	qsort(v, n, sizeof(*v), cand_cmp);
	for (i = 0; i < n && !rc; i++)
		for (j = i + 1; j < n && v[j].af == v[i].af && v[j].proto == v[i].proto &&
				v[j].host_port == v[i].host_port; j++)
			if (ip_overlap(&v[i].host_ip, &v[j].host_ip)) {
				rc = netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
						  "portMappings[%zu] (%s) and portMappings[%zu] (%s) want the "
						  "same host port", v[i].idx, cand_str(&v[i], a), v[j].idx,
						  cand_str(&v[j], b));
				break;
			}
	for (i = 0; i < n && !rc; i++) {
		const struct cand *c = &v[i];

		for (const struct entry *e = p->b[bucket(c->af, c->proto, c->host_port)]; e; e = e->next) {
			if (e->af != c->af || e->proto != c->proto || e->host_port != c->host_port ||
			    !ip_overlap(&e->host_ip, &c->host_ip))
				continue;
			if (strcmp(e->cid, ep->container_id)) {
				rc = netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
						  "portMappings[%zu] (%s): host port %u/%s is already published "
						  "by container %s (endpoint %s, %s)", c->idx, cand_str(c, a),
						  c->host_port, netd_proto_name(c->proto),
						  /* its name, as the user knows it; the endpoint names its id */
						  e->name[0] ? e->name : e->cid, e->holders->ep_id, cand_str(&(struct cand){
							  .af = e->af, .proto = e->proto, .host_port = e->host_port,
							  .container_port = e->container_port,
							  .host_ip = e->host_ip}, b));
				break;
			}
			if (ip_same(&e->host_ip, &c->host_ip) && e->container_port == c->container_port)
				continue;	/* identical: the same container on another network */
			if (only_held_by(e, ep->id))
				continue;	/* its own registration, being replaced */
			rc = netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
					  "portMappings[%zu] (%s): container %s already publishes host port "
					  "%u/%s differently (endpoint %s)", c->idx, cand_str(c, a), e->cid,
					  c->host_port, netd_proto_name(c->proto), e->holders->ep_id);
			break;
		}
	}
	free(v);
	return rc;
}

static struct epreg **epreg_find(struct netd_pub *p, const char *id)
{
	struct epreg **pp = &p->eps[str_hash(id)];

	while (*pp && strcmp((*pp)->id, id))
		pp = &(*pp)->next;
	return pp;
}

int netd_pub_del(struct netd_pub *p, const char *ep_id, struct netd_pub_delta *d)
{
	struct epreg **pp = epreg_find(p, ep_id), *r = *pp;
	int rc = 0;

	if (!r)
		return 0;
	for (size_t i = 0; i < r->n; i++) {
		struct entry *e = r->v[i], **ep;
		struct holder **hp, *h;
		struct netd_pub_elem old = elem_of(e), now;
		bool first;

		for (hp = &e->holders; *hp && strcmp((*hp)->ep_id, ep_id); hp = &(*hp)->next)
			;
		if (!(h = *hp))
			continue;
		first = hp == &e->holders;
		*hp = h->next;
		free(h->ep_id);
		free(h);
		if (!e->holders) {
			if (delta_push(&d->del, &d->n_del, &d->cap_del, &old) < 0)
				rc = -ENOMEM;
			for (ep = &p->b[bucket(e->af, e->proto, e->host_port)]; *ep != e; ep = &(*ep)->next)
				;
			*ep = e->next;
			entry_free(e);
			p->n_entries--;
		} else if (first && !netd_addr_eq(&e->holders->to, &old.to)) {
			now = elem_of(e);
			if (delta_push(&d->del, &d->n_del, &d->cap_del, &old) < 0 ||
			    delta_push(&d->add, &d->n_add, &d->cap_add, &now) < 0)
				rc = -ENOMEM;
		}
	}
	*pp = r->next;
	free(r->id);
	free(r->v);
	free(r);
	return rc;
}

int netd_pub_put(struct netd_pub *p, const struct netd_pub_ep *ep, struct netd_pub_delta *d)
{
	struct epreg *r;
	struct cand *v;
	size_t n;
	int rc;

	if ((rc = netd_pub_del(p, ep->id, d)) < 0)
		return rc;
	if (!ep->n_maps)
		return 0;
	if (cands_of(ep, &v, &n) < 0)
		return -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->id = strdup(ep->id)) || !(r->v = calloc(n + 1, sizeof(*r->v)))) {
		if (r)
			free(r->id);
		free(r);
		free(v);
		return -ENOMEM;
	}
	r->next = p->eps[str_hash(ep->id)];
	p->eps[str_hash(ep->id)] = r;
	for (size_t i = 0; i < n; i++) {
		const struct cand *c = &v[i];
		struct entry **bp = &p->b[bucket(c->af, c->proto, c->host_port)], *e;
		struct holder *h = calloc(1, sizeof(*h)), **hp;

		if (!h || !(h->ep_id = strdup(ep->id))) {
			free(h);
			rc = -ENOMEM;
			break;
		}
		h->to = c->to;
		for (e = *bp; e; e = e->next)
			if (e->af == c->af && e->proto == c->proto && e->host_port == c->host_port &&
			    ip_same(&e->host_ip, &c->host_ip) && e->container_port == c->container_port &&
			    !strcmp(e->cid, ep->container_id))
				break;
		if (e) {
			for (hp = &e->holders; *hp; hp = &(*hp)->next)
				;
			*hp = h;
		} else {
			struct netd_pub_elem x;

			if (!(e = calloc(1, sizeof(*e))) || !(e->cid = strdup(ep->container_id)) ||
			    !(e->name = strdup(ep->name ? ep->name : ""))) {
				if (e) {
					free(e->cid);
					free(e);
				}
				free(h->ep_id);
				free(h);
				rc = -ENOMEM;
				break;
			}
			e->af = c->af;
			e->proto = c->proto;
			e->host_port = c->host_port;
			e->container_port = c->container_port;
			e->host_ip = c->host_ip;
			e->holders = h;
			e->next = *bp;
			*bp = e;
			p->n_entries++;
			x = elem_of(e);
			if (delta_push(&d->add, &d->n_add, &d->cap_add, &x) < 0)
				rc = -ENOMEM;
		}
		r->v[r->n++] = e;
	}
	free(v);
	return rc;
}

void netd_pub_each(const struct netd_pub *p, void (*fn)(const struct netd_pub_elem *e, void *arg), void *arg)
{
	for (size_t i = 0; i < NBUCKETS; i++)
		for (const struct entry *e = p->b[i]; e; e = e->next) {
			struct netd_pub_elem x = elem_of(e);

			fn(&x, arg);
		}
}

size_t netd_pub_count(const struct netd_pub *p)
{
	return p->n_entries;
}
