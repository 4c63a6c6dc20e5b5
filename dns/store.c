/* store.c — names by network, views by asker; see netd/dns_store.h.
 *
 * One hash table maps tagged keys to the endpoints that hold them:
 *   'N' network \0 name   a container name or alias on a network
 *   'G' name              the same name on any network, or a link alias of
 *                         anyone's (is it ours at all?)
 *   'W' network           endpoints on a network (is it a network of ours?)
 *   'V' view              endpoints of one asker (its networks and links)
 *   'A' family address    endpoints with that address (PTR)
 *   'I' id                the endpoint itself
 * Names and networks are stored lower-cased.
 *
 * Memory: netd holds one endpoint per container interface, 10,000 and more,
 * so each costs few allocations (every malloc chunk carries its own
 * overhead). An endpoint is one block (its strings, aliases, links and
 * addresses inline; its id is the text of its 'I' key), and most keys have
 * a single holder, kept in the entry itself: only keys held by several
 * endpoints (a network, a shared alias, a container's view) get a holder
 * array. Removing an endpoint recomputes its keys from its record instead
 * of remembering the entries it is in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/dns_store.h"

struct ep {
	const char *id;		/* the text of its 'I' entry's key */
	const char *view, *network, *name;
	const char **aliases;
	struct dns_link *links;	/* lower-cased */
	struct netd_addr *addrs;
	uint16_t n_aliases, n_links, n_addrs;
	/* then, in the same block: links, aliases, addrs, strings */
};

/* the holders of a key held by more than one endpoint, in registration order */
struct holders {
	uint32_t cap;
	uint32_t rr;		/* rotation: where the next answer starts */
	struct ep *ep[];
};

struct entry {
	struct entry *next;
	union {
		struct ep *one;		/* !many */
		struct holders *many;
	} h;
	uint32_t hash;
	uint32_t n;		/* holders */
	uint16_t klen;
	bool many;
	char key[];		/* klen bytes, then a NUL (an 'I' key is the endpoint's id) */
};

struct dns_store {
	struct entry **tab;
	size_t size, n_entries, n_eps;
	uint32_t ttl;
};

static inline struct ep *holder(const struct entry *e, size_t i)
{
	return e->many ? e->h.many->ep[i] : e->h.one;
}

static uint32_t fnv(const char *k, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)k[i]) * 16777619u;
	return h;
}

struct dns_store *dns_store_new(void)
{
	struct dns_store *s = calloc(1, sizeof(*s));

	if (s && !(s->tab = calloc(s->size = 64, sizeof(*s->tab)))) {
		free(s);
		s = NULL;
	}
	if (s)
		s->ttl = DNS_STORE_TTL;
	return s;
}

static struct entry *lookup(const struct dns_store *s, const char *key, size_t klen)
{
	uint32_t h = fnv(key, klen);

	for (struct entry *e = s->tab[h & (s->size - 1)]; e; e = e->next)
		if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
			return e;
	return NULL;
}

static void grow(struct dns_store *s)
{
	size_t nsize = s->size * 2;
	struct entry **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->size; i++) {
		for (struct entry *e = s->tab[i], *next; e; e = next) {
			next = e->next;
			e->next = nt[e->hash & (nsize - 1)];
			nt[e->hash & (nsize - 1)] = e;
		}
	}
	free(s->tab);
	s->tab = nt;
	s->size = nsize;
}

static void entry_free(struct entry *e)
{
	if (e->many)
		free(e->h.many);
	free(e);
}

static void entry_remove(struct dns_store *s, struct entry *e)
{
	struct entry **pp = &s->tab[e->hash & (s->size - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	entry_free(e);
	s->n_entries--;
}

/* Add ep under key. `fresh`: ep cannot hold it yet (its own id, view and
 * network), so the holders need not be searched (a network's are many).
 * Returns the entry, or NULL (out of memory). */
static struct entry *hold(struct dns_store *s, struct ep *ep, const char *key, size_t klen, bool fresh)
{
	struct entry *e = lookup(s, key, klen);

	if (!e) {
		uint32_t h = fnv(key, klen);

		if (!(e = malloc(offsetof(struct entry, key) + klen + 1)))
			return NULL;
		memcpy(e->key, key, klen);
		e->key[klen] = 0;
		e->klen = (uint16_t)klen;
		e->hash = h;
		e->h.one = ep;
		e->n = 1;
		e->many = false;
		e->next = s->tab[h & (s->size - 1)];
		s->tab[h & (s->size - 1)] = e;
		if (++s->n_entries > s->size)
			grow(s);
		return e;
	}
	for (size_t i = 0; !fresh && i < e->n; i++)
		if (holder(e, i) == ep)
			return e;
	if (!e->many || e->n == e->h.many->cap) {
		uint32_t ncap = e->many ? e->h.many->cap * 2 : 4;
		struct holders *m = realloc(e->many ? e->h.many : NULL, sizeof(*m) + ncap * sizeof(m->ep[0]));

		if (!m)
			return NULL;
		if (!e->many) {
			m->rr = 0;
			m->ep[0] = e->h.one;
			e->many = true;
		}
		m->cap = ncap;
		e->h.many = m;
	}
	e->h.many->ep[e->n++] = ep;
	return e;
}

/* Take ep out of key's holders, if it is there. */
static void drop(struct dns_store *s, const struct ep *ep, const char *key, size_t klen)
{
	struct entry *e = lookup(s, key, klen);

	if (!e)
		return;
	for (size_t k = 0; k < e->n; k++) {
		if (holder(e, k) != ep)
			continue;
		if (e->n == 1) {
			entry_remove(s, e);
			return;
		}
		/* keep registration order: rotation then starts where it was */
		memmove(e->h.many->ep + k, e->h.many->ep + k + 1, (e->n - k - 1) * sizeof(e->h.many->ep[0]));
		e->n--;
		return;
	}
}

/* key = tag a [\0 b] into buf; returns its length, or 0 if it does not fit */
static size_t mkkey(char *buf, size_t size, char tag, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, n = 1 + la + (b ? 1 + lb : 0);

	if (n > size)
		return 0;
	buf[0] = tag;
	memcpy(buf + 1, a, la);
	if (b) {
		buf[1 + la] = 0;
		memcpy(buf + 2 + la, b, lb);
	}
	return n;
}

static size_t addr_key(char key[18], const struct netd_addr *a)
{
	key[0] = 'A';
	key[1] = a->family == AF_INET ? 4 : 6;
	memcpy(key + 2, a->b, netd_addr_len(a));
	return 2 + netd_addr_len(a);
}

#define KEY_MAX 1024

/* Every key of ep but its id, in the order put holds them. fn returns < 0
 * to stop. */
static int each_key(struct dns_store *s, struct ep *ep, int (*fn)(struct dns_store *, struct ep *, const char *,
								    size_t, bool))
{
	char key[KEY_MAX];
	size_t n;
	int rc;

	if (!(n = mkkey(key, sizeof(key), 'V', ep->view, NULL)) || (rc = fn(s, ep, key, n, true)) < 0)
		return n ? rc : -ENAMETOOLONG;
	if (!(n = mkkey(key, sizeof(key), 'W', ep->network, NULL)) || (rc = fn(s, ep, key, n, true)) < 0)
		return n ? rc : -ENAMETOOLONG;
	for (size_t i = 0; i <= ep->n_aliases; i++) {
		const char *name = i ? ep->aliases[i - 1] : ep->name;

		if (!*name)
			continue;
		if (!(n = mkkey(key, sizeof(key), 'N', ep->network, name)) || (rc = fn(s, ep, key, n, false)) < 0)
			return n ? rc : -ENAMETOOLONG;
		if (!(n = mkkey(key, sizeof(key), 'G', name, NULL)) || (rc = fn(s, ep, key, n, false)) < 0)
			return n ? rc : -ENAMETOOLONG;
	}
	/* a link alias answers only the linker, and is NXDOMAIN for the others
	 * rather than a question for the world */
	for (size_t i = 0; i < ep->n_links; i++)
		if (!(n = mkkey(key, sizeof(key), 'G', ep->links[i].alias, NULL)) || (rc = fn(s, ep, key, n, false)) < 0)
			return n ? rc : -ENAMETOOLONG;
	for (size_t i = 0; i < ep->n_addrs; i++)
		if ((rc = fn(s, ep, key, addr_key(key, &ep->addrs[i]), false)) < 0)
			return rc;
	return 0;
}

static int hold_cb(struct dns_store *s, struct ep *ep, const char *key, size_t klen, bool fresh)
{
	return hold(s, ep, key, klen, fresh) ? 0 : -ENOMEM;
}

static int drop_cb(struct dns_store *s, struct ep *ep, const char *key, size_t klen, bool fresh)
{
	(void)fresh;
	drop(s, ep, key, klen);
	return 0;
}

/* Out of every entry, the 'I' one (and with it ep->id) last. */
static void release(struct dns_store *s, struct ep *ep)
{
	char key[KEY_MAX];
	size_t n;

	each_key(s, ep, drop_cb);
	if ((n = mkkey(key, sizeof(key), 'I', ep->id, NULL)))
		drop(s, ep, key, n);
}

static struct ep *ep_get(const struct dns_store *s, const char *id)
{
	char key[KEY_MAX];
	size_t n = mkkey(key, sizeof(key), 'I', id, NULL);
	struct entry *e = n ? lookup(s, key, n) : NULL;

	return e && e->n ? holder(e, 0) : NULL;
}

static char *put_str(char **p, const char *s, bool lower)
{
	char *d = *p;
	size_t n = strlen(s ? s : "");

	memcpy(d, s ? s : "", n + 1);
	for (size_t i = 0; lower && i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] += 32;
	*p += n + 1;
	return d;
}

/* One block: the record, its arrays, its strings (the id stays the caller's
 * until the 'I' entry holds it). */
static struct ep *ep_copy(const struct dns_ep_info *in)
{
	size_t strs = strlen(in->view) + 1 + strlen(in->network) + 1 + strlen(in->name ? in->name : "") + 1;
	struct ep *ep;
	char *p;

	if (in->n_aliases > UINT16_MAX || in->n_links > UINT16_MAX || in->n_addrs > UINT16_MAX)
		return NULL;
	for (size_t i = 0; i < in->n_aliases; i++)
		strs += strlen(in->aliases[i] ? in->aliases[i] : "") + 1;
	for (size_t i = 0; i < in->n_links; i++) {
		const struct dns_link *l = &in->links[i];

		strs += strlen(l->name ? l->name : "") + 1;
		strs += strlen(l->alias && *l->alias ? l->alias : l->name ? l->name : "") + 1;
	}
	if (!(ep = malloc(sizeof(*ep) + in->n_links * sizeof(*ep->links) + in->n_aliases * sizeof(*ep->aliases) +
			  in->n_addrs * sizeof(*ep->addrs) + strs)))
		return NULL;
	ep->id = in->id;
	ep->links = (struct dns_link *)(ep + 1);
	ep->aliases = (const char **)(ep->links + in->n_links);
	ep->addrs = (struct netd_addr *)(ep->aliases + in->n_aliases);
	p = (char *)(ep->addrs + in->n_addrs);
	ep->n_links = (uint16_t)in->n_links;
	ep->n_aliases = (uint16_t)in->n_aliases;
	ep->n_addrs = (uint16_t)in->n_addrs;
	ep->view = put_str(&p, in->view, false);
	ep->network = put_str(&p, in->network, true);
	ep->name = put_str(&p, in->name, true);
	for (size_t i = 0; i < in->n_aliases; i++)
		ep->aliases[i] = put_str(&p, in->aliases[i], true);
	for (size_t i = 0; i < in->n_links; i++) {
		const struct dns_link *l = &in->links[i];

		ep->links[i].name = put_str(&p, l->name, true);
		ep->links[i].alias = put_str(&p, l->alias && *l->alias ? l->alias : l->name, true);
	}
	if (in->n_addrs)
		memcpy(ep->addrs, in->addrs, in->n_addrs * sizeof(*ep->addrs));
	return ep;
}

int dns_store_put(struct dns_store *s, const struct dns_ep_info *in)
{
	char key[KEY_MAX];
	struct entry *e;
	struct ep *ep;
	size_t n;
	int rc;

	dns_store_del(s, in->id);
	if (!(ep = ep_copy(in)))
		return -ENOMEM;
	if (!(n = mkkey(key, sizeof(key), 'I', in->id, NULL))) {
		free(ep);
		return -ENAMETOOLONG;
	}
	if (!(e = hold(s, ep, key, n, true))) {
		free(ep);
		return -ENOMEM;
	}
	ep->id = e->key + 1;
	if ((rc = each_key(s, ep, hold_cb)) < 0) {
		release(s, ep);
		free(ep);
		return rc;
	}
	s->n_eps++;
	return 0;
}

int dns_store_del(struct dns_store *s, const char *id)
{
	struct ep *ep = ep_get(s, id);

	if (!ep)
		return -ENOENT;
	release(s, ep);
	free(ep);
	s->n_eps--;
	return 0;
}

void dns_store_set_ttl(struct dns_store *s, uint32_t ttl)
{
	s->ttl = ttl;
}

uint32_t dns_store_ttl(const struct dns_store *s)
{
	return s->ttl;
}

size_t dns_store_count(const struct dns_store *s)
{
	return s->n_eps;
}

const char *dns_store_view_of(const struct dns_store *s, const char *id)
{
	const struct ep *ep = ep_get(s, id);

	return ep ? ep->view : NULL;
}

size_t dns_store_view_size(const struct dns_store *s, const char *view)
{
	char key[KEY_MAX];
	size_t n = mkkey(key, sizeof(key), 'V', view, NULL);
	const struct entry *e = n ? lookup(s, key, n) : NULL;

	return e ? e->n : 0;
}

void dns_store_free(struct dns_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->size; i++) {
		for (struct entry *e = s->tab[i]; e; e = e->next) {
			/* an endpoint is freed through its 'I' entry, the only one it alone holds */
			if (e->key[0] == 'I' && e->n)
				free(holder(e, 0));
		}
	}
	for (size_t i = 0; i < s->size; i++) {
		for (struct entry *e = s->tab[i], *next; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(s->tab);
	free(s);
}

/* ---- answering ------------------------------------------------------------ */

#define VIEW_NETS_MAX 64

struct view {
	const char *nets[VIEW_NETS_MAX];
	size_t n_nets;
	const struct entry *eps;	/* the asker's endpoints */
};

static void view_get(const struct dns_store *s, const char *key, struct view *v)
{
	char k[KEY_MAX];
	size_t n = mkkey(k, sizeof(k), 'V', key, NULL);

	memset(v, 0, sizeof(*v));
	if (!n || !(v->eps = lookup(s, k, n)))
		return;
	for (size_t i = 0; i < v->eps->n; i++) {
		const char *net = holder(v->eps, i)->network;
		size_t j;

		for (j = 0; j < v->n_nets && strcmp(v->nets[j], net); j++)
			;
		if (j == v->n_nets && v->n_nets < VIEW_NETS_MAX)
			v->nets[v->n_nets++] = net;
	}
}

static bool view_has_net(const struct view *v, const char *net)
{
	for (size_t i = 0; i < v->n_nets; i++)
		if (!strcmp(v->nets[i], net))
			return true;
	return false;
}

/* dns_store_explain's listener and what the lookup is at; NULL on the
 * server's path, which then does nothing more than it did */
struct why {
	dns_store_why_fn *fn;
	void *arg;
	struct dns_store_why w;	/* via, qualified, alias, linker: set by the caller */
	char alias[DNS_NAME_MAX + 1];
};

static void tell(struct why *y, const struct ep *ep, const struct netd_addr *addr)
{
	y->w.network = ep->network;
	y->w.id = ep->id;
	y->w.name = ep->name;
	y->w.addr = addr;
	y->fn(y->arg, &y->w);
}

static bool wants(uint16_t qtype, int family)
{
	return qtype == DNS_TYPE_ANY || (qtype == DNS_TYPE_A && family == AF_INET) ||
	       (qtype == DNS_TYPE_AAAA && family == AF_INET6);
}

/* Every address of every holder of `name` on `net`, starting at the next
 * holder in turn. Returns whether the name exists there. */
static bool answer_name(struct dns_store *s, const char *net, const char *name, size_t nlen,
			const struct dns_query *q, struct dns_builder *b, struct why *y)
{
	char key[KEY_MAX];
	struct entry *e;
	size_t n, start;

	if (1 + strlen(net) + 1 + nlen > sizeof(key))
		return false;
	n = mkkey(key, sizeof(key), 'N', net, "");
	memcpy(key + n, name, nlen);
	if (!(e = lookup(s, key, n + nlen)) || !e->n)
		return false;
	start = !e->many ? 0 : y ? e->h.many->rr % e->n : e->h.many->rr++ % e->n;
	for (size_t i = 0; i < e->n; i++) {
		const struct ep *ep = holder(e, (start + i) % e->n);
		bool any = false;

		if (y && y->w.via != DNS_VIA_LINK) {
			bool own = strlen(ep->name) == nlen && !memcmp(ep->name, name, nlen);

			y->w.via = own ? DNS_VIA_NAME : DNS_VIA_ALIAS;
			memcpy(y->alias, name, nlen);
			y->alias[nlen] = 0;
			y->w.alias = own ? NULL : y->alias;
		}
		for (size_t k = 0; k < ep->n_addrs; k++) {
			if (!wants(q->qtype, ep->addrs[k].family))
				continue;
			dns_build_answer(b, ep->addrs[k].family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA,
					 s->ttl, ep->addrs[k].b, netd_addr_len(&ep->addrs[k]));
			if (y)
				tell(y, ep, &ep->addrs[k]);
			any = true;
		}
		if (y && !any)
			tell(y, ep, NULL);
	}
	return true;
}

static const struct entry *exists(const struct dns_store *s, char tag, const char *a, size_t alen)
{
	char key[KEY_MAX];

	if (1 + alen > sizeof(key))
		return NULL;
	key[0] = tag;
	memcpy(key + 1, a, alen);
	return lookup(s, key, 1 + alen);
}

/* "4.3.2.1.in-addr.arpa" / 32 nibbles + "ip6.arpa" -> address; false if not one */
static bool ptr_addr(const char *name, struct netd_addr *a)
{
	size_t len = strlen(name);

	memset(a, 0, sizeof(*a));
	if (len > 13 && !strcmp(name + len - 13, ".in-addr.arpa")) {
		const char *p = name;

		for (int i = 3; i >= 0; i--) {
			unsigned v = 0;
			size_t d = 0;

			for (; *p >= '0' && *p <= '9' && d < 3; p++, d++)
				v = v * 10 + (unsigned)(*p - '0');
			if (!d || v > 255 || *p != '.' || (d > 1 && p[-(long)d] == '0'))
				return false;
			p++;
			a->b[i] = (uint8_t)v;
		}
		if (p != name + len - 12)
			return false;
		a->family = AF_INET;
		return true;
	}
	if (len == 64 + 8 && !strcmp(name + 64, "ip6.arpa")) {
		for (int i = 0; i < 32; i++) {
			char c = name[2 * i];
			int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

			if (v < 0 || name[2 * i + 1] != '.')
				return false;
			a->b[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
		}
		a->family = AF_INET6;
		return true;
	}
	return false;
}

static enum dns_store_result answer_ptr(struct dns_store *s, const struct view *v, const struct netd_addr *a,
					const struct dns_query *q, struct dns_builder *b, struct why *y)
{
	char key[18], target[DNS_NAME_MAX + 2];
	const struct entry *e;
	bool seen = false;

	if (!(e = lookup(s, key, addr_key(key, a))))
		return DNS_STORE_FORWARD;
	for (size_t i = 0; i < e->n; i++) {
		const struct ep *ep = holder(e, i);

		if (!view_has_net(v, ep->network)) {
			if (y) {
				y->w.via = DNS_VIA_HIDDEN;
				y->w.ptr = NULL;
				tell(y, ep, a);
			}
			continue;
		}
		seen = true;
		if (*ep->name && (q->qtype == DNS_TYPE_PTR || q->qtype == DNS_TYPE_ANY) &&
		    snprintf(target, sizeof(target), "%s.%s", ep->name, ep->network) < (int)sizeof(target)) {
			dns_build_ptr(b, s->ttl, target);
			if (y) {
				y->w.via = DNS_VIA_PTR;
				y->w.ptr = target;
				tell(y, ep, a);
			}
		}
	}
	return seen ? DNS_STORE_ANSWERED : DNS_STORE_NXDOMAIN;
}

/* name is ep's own name or one of its network aliases (else, in 'G', one of
 * its link aliases) */
static bool holds(const struct ep *ep, const char *name)
{
	if (!strcmp(ep->name, name))
		return true;
	for (size_t i = 0; i < ep->n_aliases; i++)
		if (!strcmp(ep->aliases[i], name))
			return true;
	return false;
}

static enum dns_store_result answer(struct dns_store *s, const char *view_key, const struct dns_query *q,
				    struct dns_builder *b, struct why *y)
{
	const char *name = q->qname;
	size_t len = strlen(name);
	const struct entry *e;
	struct netd_addr a;
	struct view v;
	bool found = false;

	view_get(s, view_key, &v);
	if (ptr_addr(name, &a))
		return answer_ptr(s, &v, &a, q, b, y);
	/* a link alias: only the linking container sees it, and it wins */
	for (size_t i = 0; v.eps && i < v.eps->n; i++) {
		const struct ep *ep = holder(v.eps, i);

		for (size_t k = 0; k < ep->n_links; k++) {
			const char *target = ep->links[k].name;

			if (strcmp(ep->links[k].alias, name))
				continue;
			if (y)
				y->w = (struct dns_store_why){.via = DNS_VIA_LINK, .alias = ep->links[k].alias,
							      .linker = ep->id};
			for (size_t n = 0; n < v.n_nets; n++)
				found |= answer_name(s, v.nets[n], target, strlen(target), q, b, y);
			if (found)
				return DNS_STORE_ANSWERED;
		}
	}
	for (size_t n = 0; n < v.n_nets; n++) {
		size_t nl = strlen(v.nets[n]);

		if (y)
			y->w = (struct dns_store_why){.via = DNS_VIA_NAME};
		found |= answer_name(s, v.nets[n], name, len, q, b, y);
		/* NAME.NETWORK */
		if (len > nl + 1 && name[len - nl - 1] == '.' && !strcmp(name + len - nl, v.nets[n])) {
			if (y)
				y->w = (struct dns_store_why){.via = DNS_VIA_NAME, .qualified = true};
			found |= answer_name(s, v.nets[n], name, len - nl - 1, q, b, y);
		}
	}
	if (found)
		return DNS_STORE_ANSWERED;
	/* ours but not visible from here: no address, and no need to ask anyone */
	if ((e = exists(s, 'G', name, len))) {
		for (size_t i = 0; y && i < e->n; i++) {
			y->w = (struct dns_store_why){.via = DNS_VIA_HIDDEN};
			if (!holds(holder(e, i), name))
				y->w = (struct dns_store_why){.via = DNS_VIA_HIDDEN, .alias = name,
							      .linker = holder(e, i)->id};
			tell(y, holder(e, i), NULL);
		}
		return DNS_STORE_NXDOMAIN;
	}
	for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
		if (exists(s, 'W', dot + 1, len - (size_t)(dot + 1 - name))) {
			if (y) {
				y->w = (struct dns_store_why){.via = DNS_VIA_HIDDEN, .network = dot + 1};
				y->fn(y->arg, &y->w);
			}
			return DNS_STORE_NXDOMAIN;
		}
	}
	return DNS_STORE_FORWARD;
}

enum dns_store_result dns_store_answer(struct dns_store *s, const char *view, const struct dns_query *q,
				       struct dns_builder *b)
{
	return answer(s, view, q, b, NULL);
}

enum dns_store_result dns_store_explain(struct dns_store *s, const char *view, const struct dns_query *q,
					struct dns_builder *b, dns_store_why_fn *fn, void *arg)
{
	struct why y = {.fn = fn, .arg = arg};

	return answer(s, view, q, b, &y);
}
