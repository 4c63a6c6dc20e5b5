/* msg.c — DNS wire format; see netd/dns_msg.h. */
#include <string.h>

#include "netd/dns_msg.h"

#define PTR_HOPS_MAX 64 /* more than any legitimate name needs (at most 127 labels, each could be one hop) */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool label_char_ok(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '.';
}

/* The name at *off, decompressed, into wire (DNS_NAME_MAX bytes); *off moves
 * past the name as it sits in the packet. Pointers must point backwards
 * from where they are and not into the header: every hop strictly decreases
 * the position, so a loop cannot exist, and the hop count is capped anyway. */
static int name_read_wire(const uint8_t *pkt, size_t len, size_t *off, uint8_t *wire, size_t *wlen)
{
	size_t pos = *off, end = 0, n = 0, lowest = *off;
	int hops = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -1;
		l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len || ++hops > PTR_HOPS_MAX)
				return -1;
			to = (size_t)(l & 0x3f) << 8 | pkt[pos + 1];
			if (!end)
				end = pos + 2;
			if (to < DNS_HDR_LEN || to >= lowest)
				return -1;
			lowest = to;
			pos = to;
			continue;
		}
		if (l & 0xc0) /* 0x40, 0x80: obsolete/extended label types */
			return -1;
		if (n + 1 + l > DNS_NAME_MAX || pos + 1 + l > len)
			return -1;
		wire[n++] = l;
		if (!l)
			break;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = pkt[pos + 1 + i];

			if (!label_char_ok(c))
				return -1;
			wire[n++] = c;
		}
		pos += 1 + l;
	}
	*off = end ? end : pos + 1;
	*wlen = n;
	return 0;
}

static void wire_to_text(const uint8_t *wire, char *out)
{
	size_t i = 0, o = 0;

	while (wire[i]) {
		uint8_t l = wire[i++];

		if (o)
			out[o++] = '.';
		for (uint8_t k = 0; k < l; k++, i++) {
			uint8_t c = wire[i];

			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
	}
	out[o] = 0;
}

int dns_name_read(const uint8_t *pkt, size_t len, size_t *off, char *out)
{
	uint8_t wire[DNS_NAME_MAX];
	size_t wlen;

	if (name_read_wire(pkt, len, off, wire, &wlen) < 0)
		return -1;
	wire_to_text(wire, out);
	return 0;
}

int dns_name_to_wire(const char *name, uint8_t *out, size_t size)
{
	size_t n = 0;
	const char *p = name;

	if (*p == '.' && !p[1])
		p++;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (!l || l > 63 || n + 1 + l + 1 > size || n + 1 + l + 1 > DNS_NAME_MAX)
			return -1;
		out[n++] = (uint8_t)l;
		memcpy(out + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	if (n + 1 > size)
		return -1;
	out[n++] = 0;
	return (int)n;
}

/* Skip one resource record (not the question); -1 if it runs past the end. */
static int rr_skip(const uint8_t *pkt, size_t len, size_t *off, uint8_t *wire, size_t *wlen, uint16_t *type,
		   uint16_t *klass, uint32_t *ttl, size_t *rdata, uint16_t *rdlen)
{
	if (name_read_wire(pkt, len, off, wire, wlen) < 0 || *off + 10 > len)
		return -1;
	*type = get16(pkt + *off);
	*klass = get16(pkt + *off + 2);
	*ttl = (uint32_t)get16(pkt + *off + 4) << 16 | get16(pkt + *off + 6);
	*rdlen = get16(pkt + *off + 8);
	*off += 10;
	if (*off + *rdlen > len)
		return -1;
	*rdata = *off;
	*off += *rdlen;
	return 0;
}

int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	uint16_t qd, an, ns, ar;
	size_t off = DNS_HDR_LEN;

	memset(q, 0, sizeof(*q));
	q->udp_size = DNS_UDP_MIN;
	if (len < DNS_HDR_LEN)
		return DNS_DROP;
	q->id = get16(pkt);
	q->flags = get16(pkt + 2);
	if (q->flags & DNS_QR)
		return DNS_DROP;
	qd = get16(pkt + 4);
	an = get16(pkt + 6);
	ns = get16(pkt + 8);
	ar = get16(pkt + 10);
	if (qd != 1)
		return DNS_OPCODE(q->flags) ? -DNS_RCODE_NOTIMP : -DNS_RCODE_FORMERR;
	if (name_read_wire(pkt, len, &off, q->qname_wire, &q->qname_wire_len) < 0 || off + 4 > len) {
		q->qname_wire_len = 0;
		return -DNS_RCODE_FORMERR;
	}
	wire_to_text(q->qname_wire, q->qname);
	q->qtype = get16(pkt + off);
	q->qclass = get16(pkt + off + 2);
	off += 4;
	if (DNS_OPCODE(q->flags))
		return -DNS_RCODE_NOTIMP;
	/* a query carries no answers or authority (those are for NOTIFY/UPDATE) */
	if (an || ns)
		return -DNS_RCODE_FORMERR;
	for (uint16_t i = 0; i < ar; i++) {
		uint8_t wire[DNS_NAME_MAX];
		size_t wlen, rdata;
		uint16_t type, klass, rdlen;
		uint32_t ttl;

		if (rr_skip(pkt, len, &off, wire, &wlen, &type, &klass, &ttl, &rdata, &rdlen) < 0)
			return -DNS_RCODE_FORMERR;
		if (type != DNS_TYPE_OPT)
			continue;
		/* one OPT, owned by the root (RFC 6891 6.1.1) */
		if (q->edns || wlen != 1)
			return -DNS_RCODE_FORMERR;
		q->edns = true;
		q->udp_size = klass < DNS_UDP_MIN ? DNS_UDP_MIN : klass > DNS_UDP_MAX ? DNS_UDP_MAX : klass;
		q->edns_version = (uint8_t)(ttl >> 16);
		q->edns_do = (ttl & 0x8000) != 0;
		/* options: each TLV must fit in rdata */
		for (size_t o = rdata; o < rdata + rdlen;) {
			if (o + 4 > rdata + rdlen || o + 4 + get16(pkt + o + 2) > rdata + rdlen)
				return -DNS_RCODE_FORMERR;
			o += 4 + get16(pkt + o + 2);
		}
	}
	if (off != len)
		return -DNS_RCODE_FORMERR;
	if (q->qclass != DNS_CLASS_IN && q->qclass != 255)
		return -DNS_RCODE_NOTIMP;
	/* RFC 6891 6.1.3: a version we do not speak; the OPT of the answer says ours */
	if (q->edns && q->edns_version)
		return -DNS_RCODE_BADVERS;
	return 0;
}

/* ---- building ------------------------------------------------------------ */

void dns_build_start(struct dns_builder *b, uint8_t *buf, size_t cap, size_t limit, const struct dns_query *q,
		     int rcode)
{
	uint16_t flags = DNS_QR | (q->flags & (0xf << 11)) | (q->flags & DNS_RD) | DNS_RA | (rcode & 0xf);

	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	b->limit = limit < cap ? limit : cap;
	b->q = q;
	b->ext_rcode = (uint8_t)(rcode >> 4);
	b->reserve = q->edns ? 11 : 0;
	if (b->limit < DNS_HDR_LEN) { /* cannot happen with sane callers; answer nothing */
		b->truncated = true;
		return;
	}
	memset(buf, 0, DNS_HDR_LEN);
	put16(buf, q->id);
	put16(buf + 2, flags);
	b->len = DNS_HDR_LEN;
	if (q->qname_wire_len && b->len + q->qname_wire_len + 4 <= b->limit) {
		memcpy(buf + b->len, q->qname_wire, q->qname_wire_len);
		b->len += q->qname_wire_len;
		put16(buf + b->len, q->qtype);
		put16(buf + b->len + 2, q->qclass);
		b->len += 4;
		put16(buf + 4, 1);
	}
	if (b->len + b->reserve > b->limit)
		b->reserve = 0;
}

static bool room(struct dns_builder *b, size_t need)
{
	if (b->truncated || b->len + need + b->reserve > b->limit) {
		b->truncated = true;
		return false;
	}
	return true;
}

void dns_build_answer(struct dns_builder *b, uint16_t type, uint32_t ttl, const void *rdata, size_t rdlen)
{
	uint8_t *p;

	if (rdlen > 0xffff || !b->q->qname_wire_len || !room(b, 2 + 10 + rdlen))
		return;
	p = b->buf + b->len;
	put16(p, 0xc000 | DNS_HDR_LEN); /* the question's name */
	put16(p + 2, type);
	put16(p + 4, DNS_CLASS_IN);
	put16(p + 6, (uint16_t)(ttl >> 16));
	put16(p + 8, (uint16_t)ttl);
	put16(p + 10, (uint16_t)rdlen);
	memcpy(p + 12, rdata, rdlen);
	b->len += 12 + rdlen;
	b->ancount++;
}

void dns_build_ptr(struct dns_builder *b, uint32_t ttl, const char *target)
{
	uint8_t wire[DNS_NAME_MAX];
	int n = dns_name_to_wire(target, wire, sizeof(wire));

	if (n > 0)
		dns_build_answer(b, DNS_TYPE_PTR, ttl, wire, (size_t)n);
}

size_t dns_build_end(struct dns_builder *b)
{
	if (b->len < DNS_HDR_LEN)
		return 0;
	put16(b->buf + 6, b->ancount);
	if (b->truncated)
		b->buf[2] |= DNS_TC >> 8;
	if (b->q->edns && b->len + 11 <= b->limit) {
		uint8_t *p = b->buf + b->len;

		p[0] = 0;			/* root */
		put16(p + 1, DNS_TYPE_OPT);
		put16(p + 3, 1232);		/* what we accept: no fragmentation on any sane path */
		memset(p + 5, 0, 6);		/* ext rcode, version 0, flags, rdlen 0 */
		p[5] = b->ext_rcode;
		b->len += 11;
		put16(b->buf + 10, 1);
	}
	return b->len;
}

size_t dns_build_error(uint8_t *buf, size_t cap, size_t limit, const struct dns_query *q, int rcode)
{
	struct dns_builder b;

	dns_build_start(&b, buf, cap, limit, q, rcode);
	return dns_build_end(&b);
}

size_t dns_relay(uint8_t *ans, size_t len, size_t limit, const struct dns_query *q)
{
	size_t qend = DNS_HDR_LEN + q->qname_wire_len + 4;

	if (len < qend || !(ans[2] & (DNS_QR >> 8)) || get16(ans + 4) != 1 || !q->qname_wire_len)
		return 0;
	/* the same question (the name's case may differ: some servers fold it) */
	for (size_t i = 0; i < q->qname_wire_len; i++) {
		uint8_t a = ans[DNS_HDR_LEN + i], c = q->qname_wire[i];

		if (a != c && !(a >= 'A' && a <= 'Z' && a + 32 == c) && !(c >= 'A' && c <= 'Z' && c + 32 == a))
			return 0;
	}
	if (get16(ans + qend - 4) != q->qtype || get16(ans + qend - 2) != q->qclass)
		return 0;
	put16(ans, q->id);
	if (len <= limit)
		return len;
	/* too big for this client over UDP: the question alone, TC set */
	ans[2] |= DNS_TC >> 8;
	memset(ans + 6, 0, 6);
	return qend;
}

/* ---- TCP framing ---------------------------------------------------------- */

int dns_tcp_next(const struct dns_tcp_in *t, const uint8_t **msg, size_t *mlen)
{
	size_t l;

	if (t->len < 2)
		return 0;
	l = get16(t->buf);
	if (t->len < 2 + l)
		return 0;
	*msg = t->buf + 2;
	*mlen = l;
	return 1;
}

void dns_tcp_consume(struct dns_tcp_in *t)
{
	size_t l;

	if (t->len < 2 || t->len < 2 + (l = get16(t->buf)))
		return;
	memmove(t->buf, t->buf + 2 + l, t->len - 2 - l);
	t->len -= 2 + l;
}
