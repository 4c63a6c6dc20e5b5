/* cache.c — upstream answers kept for their TTL; see netd/dns_cache.h.
 *
 * An entry is one allocation: the bookkeeping, the key strings, the offsets
 * of the answer's TTL fields and the answer itself as the upstream sent it
 * (its OPT record taken off: whether a client gets one depends on that
 * client). Entries sit in a hash table and on a list, most recently used
 * first; the last one goes when the cache is over its bounds.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "netd/dns_cache.h"

#define RR_MAX 256		/* answers with more records are not kept */
#define BITS_DO 1
#define BITS_CD 2
#define DNS_CD 0x0010

struct entry {
	struct entry *hnext;		/* hash chain */
	struct entry *prev, *next;	/* use order, most recent first */
	uint64_t stored_ms, expires_ms;
	size_t size;			/* what it costs, for the memory bound */
	uint32_t hash;
	uint16_t qtype, qclass, len, n_ttl;
	uint8_t bits;
	const char *upstream, *qname;
	uint16_t *ttl_off;		/* where each record's TTL sits in ans */
	uint8_t *ans;
	char data[];
};

struct dns_cache {
	struct entry **tab;
	size_t n_buckets;		/* a power of two */
	size_t max_entries, max_bytes;
	struct entry *head, *tail;
	struct dns_cache_stats st;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint8_t bits_of(const struct dns_query *q)
{
	return (uint8_t)((q->edns_do ? BITS_DO : 0) | (q->flags & DNS_CD ? BITS_CD : 0));
}

static uint32_t hash_of(const char *upstream, const struct dns_query *q)
{
	uint32_t h = 2166136261u;
	uint8_t tail[5] = {(uint8_t)(q->qtype >> 8), (uint8_t)q->qtype, (uint8_t)(q->qclass >> 8), (uint8_t)q->qclass,
			   bits_of(q)};

	for (const char *p = q->qname; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = upstream; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (size_t i = 0; i < sizeof(tail); i++)
		h = (h ^ tail[i]) * 16777619u;
	return h;
}

struct dns_cache *dns_cache_new(size_t max_entries)
{
	struct dns_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->max_entries = max_entries;
	c->max_bytes = max_entries * 1024;
	for (c->n_buckets = 16; c->n_buckets < max_entries; c->n_buckets *= 2)
		;
	if (!(c->tab = calloc(c->n_buckets, sizeof(*c->tab)))) {
		free(c);
		return NULL;
	}
	return c;
}

static void unlink_entry(struct dns_cache *c, struct entry *e)
{
	struct entry **pp;

	for (pp = &c->tab[e->hash & (c->n_buckets - 1)]; *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	c->st.entries--;
	c->st.bytes -= e->size;
	free(e);
}

void dns_cache_free(struct dns_cache *c)
{
	if (!c)
		return;
	while (c->head)
		unlink_entry(c, c->head);
	free(c->tab);
	free(c);
}

const struct dns_cache_stats *dns_cache_stats(const struct dns_cache *c)
{
	return &c->st;
}

static struct entry *find(struct dns_cache *c, const char *upstream, const struct dns_query *q, uint32_t h)
{
	uint8_t bits = bits_of(q);

	for (struct entry *e = c->tab[h & (c->n_buckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->qtype == q->qtype && e->qclass == q->qclass && e->bits == bits &&
		    !strcmp(e->qname, q->qname) && !strcmp(e->upstream, upstream))
			return e;
	return NULL;
}

/* e, not on the LRU list, becomes its most recent entry */
static void push_front(struct dns_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void to_front(struct dns_cache *c, struct entry *e)
{
	if (c->head == e)
		return;
	if (e->prev)
		e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else if (c->tail == e)
		c->tail = e->prev;
	push_front(c, e);
}

/* What an answer is worth keeping for: its length without OPT, the TTL
 * offsets (ttl_off, RR_MAX) and the seconds; 0 seconds: not worth it. */
static uint32_t judge(const struct dns_query *q, const uint8_t *ans, size_t len, uint16_t *ttl_off,
		      uint16_t *n_ttl, size_t *keep_len)
{
	char name[DNS_NAME_MAX + 1];
	uint16_t flags, an, ns, ar;
	size_t off = DNS_HDR_LEN, opt_at = 0;
	uint32_t min_ttl = UINT32_MAX, neg_ttl = UINT32_MAX;
	bool soa = false, negative;
	int rcode;

	if (len < DNS_HDR_LEN || len > DNS_CACHE_ANSWER_MAX)
		return 0;
	flags = get16(ans + 2);
	rcode = flags & 0xf;
	an = get16(ans + 6);
	ns = get16(ans + 8);
	ar = get16(ans + 10);
	if (!(flags & DNS_QR) || DNS_OPCODE(flags) || (flags & DNS_TC) || get16(ans + 4) != 1 ||
	    (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN))
		return 0;
	/* the question asked: a first name cannot be compressed, so it is q's wire form up to case */
	if (off + q->qname_wire_len + 4 > len || dns_name_read(ans, len, &off, name) < 0 || strcmp(name, q->qname) ||
	    off != DNS_HDR_LEN + q->qname_wire_len || get16(ans + off) != q->qtype ||
	    get16(ans + off + 2) != q->qclass)
		return 0;
	off += 4;
	*n_ttl = 0;
	for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
		uint16_t type, rdlen;
		uint32_t ttl;
		size_t at = off;

		if (dns_name_read(ans, len, &off, name) < 0 || off + 10 > len)
			return 0;
		type = get16(ans + off);
		ttl = get32(ans + off + 4);
		rdlen = get16(ans + off + 8);
		if (off + 10 + rdlen > len)
			return 0;
		if (type == DNS_TYPE_OPT) {
			/* only the last record, in the additional section, with no extended rcode */
			if (i < (unsigned)an + ns || i + 1 != (unsigned)an + ns + ar || opt_at || (ttl >> 24))
				return 0;
			opt_at = at;
			off += 10 + rdlen;
			continue;
		}
		if (*n_ttl == RR_MAX)
			return 0;
		ttl_off[(*n_ttl)++] = (uint16_t)(off + 4);
		/* a TTL with the top bit set counts as 0 (RFC 2181 8) */
		if (ttl > 0x7fffffff)
			ttl = 0;
		if (ttl < min_ttl)
			min_ttl = ttl;
		if (type == DNS_TYPE_SOA && i >= an && i < (unsigned)an + ns && rdlen >= 22) {
			uint32_t minimum = get32(ans + off + 10 + rdlen - 4);

			soa = true;
			neg_ttl = ttl < minimum ? ttl : minimum;
		}
		off += 10 + rdlen;
	}
	if (off != len)
		return 0;
	*keep_len = opt_at ? opt_at : len;
	negative = rcode == DNS_RCODE_NXDOMAIN || !an;
	if (negative) {
		/* RFC 2308 5: no SOA, no negative caching */
		if (!soa)
			return 0;
		if (neg_ttl < min_ttl)
			min_ttl = neg_ttl;
		return min_ttl > DNS_CACHE_NEG_TTL_MAX ? DNS_CACHE_NEG_TTL_MAX : min_ttl;
	}
	return min_ttl > DNS_CACHE_TTL_MAX ? DNS_CACHE_TTL_MAX : min_ttl;
}

int dns_cache_put(struct dns_cache *c, const char *upstream, const struct dns_query *q, const uint8_t *ans,
		  size_t len, uint64_t now_ms)
{
	uint16_t ttl_off[RR_MAX], n_ttl = 0;
	size_t keep = 0, ul = strlen(upstream) + 1, nl = strlen(q->qname) + 1, size;
	uint32_t ttl, h;
	struct entry *e;
	char *p;

	if (!c->max_entries || !(ttl = judge(q, ans, len, ttl_off, &n_ttl, &keep)))
		return 0;
	h = hash_of(upstream, q);
	if ((e = find(c, upstream, q, h)))
		unlink_entry(c, e);
	size = sizeof(*e) + n_ttl * sizeof(uint16_t) + keep + ul + nl;
	if (size > c->max_bytes || !(e = calloc(1, size)))
		return 0;
	e->size = size;
	e->hash = h;
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (uint64_t)ttl * 1000;
	e->qtype = q->qtype;
	e->qclass = q->qclass;
	e->bits = bits_of(q);
	e->n_ttl = n_ttl;
	e->len = (uint16_t)keep;
	p = e->data;
	e->ttl_off = (uint16_t *)p;
	memcpy(p, ttl_off, n_ttl * sizeof(uint16_t));
	p += n_ttl * sizeof(uint16_t);
	e->ans = (uint8_t *)p;
	memcpy(p, ans, keep);
	if (keep != len) /* the OPT record, the last one, is gone */
		put16(e->ans + 10, (uint16_t)(get16(e->ans + 10) - 1));
	p += keep;
	e->upstream = memcpy(p, upstream, ul);
	p += ul;
	e->qname = memcpy(p, q->qname, nl);
	e->hnext = c->tab[h & (c->n_buckets - 1)];
	c->tab[h & (c->n_buckets - 1)] = e;
	push_front(c, e);
	c->st.entries++;
	c->st.bytes += size;
	c->st.stored++;
	while (c->st.entries > c->max_entries || c->st.bytes > c->max_bytes) {
		unlink_entry(c, c->tail);
		c->st.evicted++;
	}
	return 1;
}

size_t dns_cache_get(struct dns_cache *c, const char *upstream, const struct dns_query *q, uint64_t now_ms,
		     uint8_t *out, size_t cap, size_t limit)
{
	uint32_t h = hash_of(upstream, q), age;
	struct entry *e = c->max_entries ? find(c, upstream, q, h) : NULL;
	size_t n;

	if (e && now_ms >= e->expires_ms) {
		unlink_entry(c, e);
		e = NULL;
	}
	if (!e || cap < (size_t)e->len + 11 || e->len < DNS_HDR_LEN + q->qname_wire_len + 4) {
		c->st.misses++;
		return 0;
	}
	to_front(c, e);
	memcpy(out, e->ans, e->len);
	n = e->len;
	/* the client's spelling of the name, its RD bit; a copy is not authoritative */
	memcpy(out + DNS_HDR_LEN, q->qname_wire, q->qname_wire_len);
	out[2] = (uint8_t)((out[2] & ~((DNS_RD | DNS_AA) >> 8)) | ((q->flags & DNS_RD) >> 8));
	age = (uint32_t)((now_ms - e->stored_ms) / 1000);
	for (uint16_t i = 0; i < e->n_ttl; i++) {
		uint32_t ttl = get32(out + e->ttl_off[i]);

		put32(out + e->ttl_off[i], ttl > 0x7fffffff || ttl < age ? 0 : ttl - age);
	}
	if (q->edns) {
		uint8_t *o = out + n;

		o[0] = 0;			/* root */
		put16(o + 1, DNS_TYPE_OPT);
		put16(o + 3, 1232);		/* as for answers of our own */
		put32(o + 5, q->edns_do ? 0x8000 : 0);
		put16(o + 9, 0);
		n += 11;
		put16(out + 10, (uint16_t)(get16(out + 10) + 1));
	}
	n = dns_relay(out, n, limit, q);
	if (!n) {
		c->st.misses++;
		return 0;
	}
	c->st.hits++;
	return n;
}
