/* store.c — names by network, views by asker; see netd/dns_store.h.
 *
 * One hash table maps tagged keys to the endpoints that hold them:
 *   'N' network \0 name   a container name or alias on a network
 *   'G' name              the same name on any network (is it ours at all?)
 *   'W' network           endpoints on a network (is it a network of ours?)
 *   'V' view              endpoints of one asker (its networks and links)
 *   'A' family address    endpoints with that address (PTR)
 *   'I' id                the endpoint itself
 * Names and networks are stored lower-cased. Each endpoint remembers the
 * entries it is in, so removing it touches exactly those.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/dns_store.h"

struct entry;

struct ep {
	char *id, *view, *network, *name;
	char **aliases;
	size_t n_aliases;
	struct dns_link *links;	/* strings owned, lower-cased */
	size_t n_links;
	struct netd_addr *addrs;
	size_t n_addrs;
	struct entry **in;	/* the entries holding this endpoint */
	size_t n_in;
};

struct entry {
	struct entry *next;
	uint32_t hash;
	size_t klen;
	struct ep **eps;
	size_t n, cap;
	unsigned rr;		/* rotation for names held by several endpoints */
	char key[];
};

struct dns_store {
	struct entry **tab;
	size_t size, n_entries, n_eps;
};

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

static void entry_remove(struct dns_store *s, struct entry *e)
{
	struct entry **pp = &s->tab[e->hash & (s->size - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	free(e->eps);
	free(e);
	s->n_entries--;
}

/* Add ep under key (once). */
static int hold(struct dns_store *s, struct ep *ep, const char *key, size_t klen)
{
	struct entry *e = lookup(s, key, klen), **in;

	if (e) {
		for (size_t i = 0; i < e->n; i++)
			if (e->eps[i] == ep)
				return 0;
	} else {
		uint32_t h = fnv(key, klen);

		if (!(e = calloc(1, sizeof(*e) + klen)))
			return -ENOMEM;
		memcpy(e->key, key, klen);
		e->klen = klen;
		e->hash = h;
		e->next = s->tab[h & (s->size - 1)];
		s->tab[h & (s->size - 1)] = e;
		if (++s->n_entries > s->size)
			grow(s);
	}
	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 2;
		struct ep **n = realloc(e->eps, ncap * sizeof(*n));

		if (!n)
			goto fail;
		e->eps = n;
		e->cap = ncap;
	}
	if (!(in = realloc(ep->in, (ep->n_in + 1) * sizeof(*in))))
		goto fail;
	ep->in = in;
	ep->in[ep->n_in++] = e;
	e->eps[e->n++] = ep;
	return 0;
fail:
	if (!e->n)
		entry_remove(s, e);
	return -ENOMEM;
}

static void release(struct dns_store *s, struct ep *ep)
{
	for (size_t i = 0; i < ep->n_in; i++) {
		struct entry *e = ep->in[i];

		for (size_t k = 0; k < e->n; k++) {
			if (e->eps[k] == ep) {
				/* keep registration order: rotation then starts where it was */
				memmove(e->eps + k, e->eps + k + 1, (e->n - k - 1) * sizeof(*e->eps));
				e->n--;
				break;
			}
		}
		if (!e->n)
			entry_remove(s, e);
	}
	ep->n_in = 0;
}

static void ep_free(struct ep *ep)
{
	if (!ep)
		return;
	free(ep->id);
	free(ep->view);
	free(ep->network);
	free(ep->name);
	for (size_t i = 0; i < ep->n_aliases; i++)
		free(ep->aliases[i]);
	free(ep->aliases);
	for (size_t i = 0; i < ep->n_links; i++) {
		free((char *)ep->links[i].name);
		free((char *)ep->links[i].alias);
	}
	free(ep->links);
	free(ep->addrs);
	free(ep->in);
	free(ep);
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s ? s : "");

	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
	return d;
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

static int hold_key(struct dns_store *s, struct ep *ep, char tag, const char *a, const char *b)
{
	char key[1024];
	size_t n = mkkey(key, sizeof(key), tag, a, b);

	return n ? hold(s, ep, key, n) : -ENAMETOOLONG;
}

static int hold_name(struct dns_store *s, struct ep *ep, const char *name)
{
	int rc;

	if (!*name)
		return 0;
	if ((rc = hold_key(s, ep, 'N', ep->network, name)) < 0)
		return rc;
	return hold_key(s, ep, 'G', name, NULL);
}

static struct ep *ep_get(const struct dns_store *s, const char *id)
{
	char key[1024];
	size_t n = mkkey(key, sizeof(key), 'I', id, NULL);
	struct entry *e = n ? lookup(s, key, n) : NULL;

	return e && e->n ? e->eps[0] : NULL;
}

static struct ep *ep_copy(const struct dns_ep_info *in)
{
	struct ep *ep = calloc(1, sizeof(*ep));

	if (!ep)
		return NULL;
	ep->id = strdup(in->id);
	ep->view = strdup(in->view);
	ep->network = lower_dup(in->network);
	ep->name = lower_dup(in->name);
	ep->aliases = calloc(in->n_aliases + 1, sizeof(char *));
	ep->links = calloc(in->n_links + 1, sizeof(*ep->links));
	ep->addrs = calloc(in->n_addrs + 1, sizeof(*ep->addrs));
	if (!ep->id || !ep->view || !ep->network || !ep->name || !ep->aliases || !ep->links || !ep->addrs)
		goto fail;
	for (; ep->n_aliases < in->n_aliases; ep->n_aliases++)
		if (!(ep->aliases[ep->n_aliases] = lower_dup(in->aliases[ep->n_aliases])))
			goto fail;
	for (; ep->n_links < in->n_links; ep->n_links++) {
		const struct dns_link *l = &in->links[ep->n_links];

		ep->links[ep->n_links].name = lower_dup(l->name);
		ep->links[ep->n_links].alias = lower_dup(l->alias && *l->alias ? l->alias : l->name);
		if (!ep->links[ep->n_links].name || !ep->links[ep->n_links].alias) {
			ep->n_links++;
			goto fail;
		}
	}
	memcpy(ep->addrs, in->addrs, in->n_addrs * sizeof(*ep->addrs));
	ep->n_addrs = in->n_addrs;
	return ep;
fail:
	ep_free(ep);
	return NULL;
}

int dns_store_put(struct dns_store *s, const struct dns_ep_info *in)
{
	struct ep *ep;
	int rc = -ENOMEM;

	dns_store_del(s, in->id);
	if (!(ep = ep_copy(in)))
		return -ENOMEM;
	if ((rc = hold_key(s, ep, 'I', ep->id, NULL)) < 0 || (rc = hold_key(s, ep, 'V', ep->view, NULL)) < 0 ||
	    (rc = hold_key(s, ep, 'W', ep->network, NULL)) < 0 || (rc = hold_name(s, ep, ep->name)) < 0)
		goto fail;
	for (size_t i = 0; i < ep->n_aliases; i++)
		if ((rc = hold_name(s, ep, ep->aliases[i])) < 0)
			goto fail;
	for (size_t i = 0; i < ep->n_addrs; i++) {
		char key[18];

		key[0] = 'A';
		key[1] = ep->addrs[i].family == AF_INET ? 4 : 6;
		memcpy(key + 2, ep->addrs[i].b, netd_addr_len(&ep->addrs[i]));
		if ((rc = hold(s, ep, key, 2 + netd_addr_len(&ep->addrs[i]))) < 0)
			goto fail;
	}
	s->n_eps++;
	return 0;
fail:
	release(s, ep);
	ep_free(ep);
	return rc;
}

int dns_store_del(struct dns_store *s, const char *id)
{
	struct ep *ep = ep_get(s, id);

	if (!ep)
		return -ENOENT;
	release(s, ep);
	ep_free(ep);
	s->n_eps--;
	return 0;
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
	char key[1024];
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
				ep_free(e->eps[0]);
		}
	}
	for (size_t i = 0; i < s->size; i++) {
		for (struct entry *e = s->tab[i], *next; e; e = next) {
			next = e->next;
			free(e->eps);
			free(e);
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
	char k[1024];
	size_t n = mkkey(k, sizeof(k), 'V', key, NULL);

	memset(v, 0, sizeof(*v));
	if (!n || !(v->eps = lookup(s, k, n)))
		return;
	for (size_t i = 0; i < v->eps->n; i++) {
		const char *net = v->eps->eps[i]->network;
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
	char key[1024];
	struct entry *e;
	size_t n, start;

	if (1 + strlen(net) + 1 + nlen > sizeof(key))
		return false;
	n = mkkey(key, sizeof(key), 'N', net, "");
	memcpy(key + n, name, nlen);
	if (!(e = lookup(s, key, n + nlen)) || !e->n)
		return false;
	start = y ? e->rr % e->n : e->rr++ % e->n;
	for (size_t i = 0; i < e->n; i++) {
		const struct ep *ep = e->eps[(start + i) % e->n];
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
					 DNS_STORE_TTL, ep->addrs[k].b, netd_addr_len(&ep->addrs[k]));
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
	char key[1024];

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

	key[0] = 'A';
	key[1] = a->family == AF_INET ? 4 : 6;
	memcpy(key + 2, a->b, netd_addr_len(a));
	if (!(e = lookup(s, key, 2 + netd_addr_len(a))))
		return DNS_STORE_FORWARD;
	for (size_t i = 0; i < e->n; i++) {
		const struct ep *ep = e->eps[i];

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
			dns_build_ptr(b, DNS_STORE_TTL, target);
			if (y) {
				y->w.via = DNS_VIA_PTR;
				y->w.ptr = target;
				tell(y, ep, a);
			}
		}
	}
	return seen ? DNS_STORE_ANSWERED : DNS_STORE_NXDOMAIN;
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
		const struct ep *ep = v.eps->eps[i];

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
			tell(y, e->eps[i], NULL);
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
