/* dns_msg.h — the DNS wire format (RFC 1035, EDNS0 of RFC 6891), strict and
 * bounds-checked: parse a query, build an answer, frame messages on TCP.
 *
 * Nothing here allocates; a parsed query lives in a caller's struct, an
 * answer is built into a caller's buffer. Every read is checked against the
 * packet's length, compression pointers must point strictly backwards (so a
 * loop is impossible) and a name is at most 255 bytes on the wire.
 *
 * Parsing a query returns 0, or a negative DNS_RCODE_* telling the caller how
 * to answer: -DNS_RCODE_FORMERR (malformed), -DNS_RCODE_NOTIMP (an opcode or
 * class not served), -DNS_RCODE_BADVERS (an EDNS version other than 0: an
 * extended rcode, carried in the answer's OPT), or DNS_DROP for what deserves no answer at all (shorter
 * than a header, or a response rather than a query).
 */
#ifndef NETD_DNS_MSG_H
#define NETD_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN 12
#define DNS_NAME_MAX 255		/* wire length, root label included */
#define DNS_UDP_MIN 512			/* without EDNS0 */
#define DNS_UDP_MAX 4096		/* the largest EDNS0 payload we honour or offer */
#define DNS_TCP_MAX 65535

enum { DNS_TYPE_A = 1, DNS_TYPE_NS = 2, DNS_TYPE_CNAME = 5, DNS_TYPE_SOA = 6, DNS_TYPE_PTR = 12,
       DNS_TYPE_AAAA = 28, DNS_TYPE_OPT = 41, DNS_TYPE_ANY = 255 };
enum { DNS_CLASS_IN = 1 };
enum { DNS_RCODE_NOERROR = 0, DNS_RCODE_FORMERR = 1, DNS_RCODE_SERVFAIL = 2, DNS_RCODE_NXDOMAIN = 3,
       DNS_RCODE_NOTIMP = 4, DNS_RCODE_REFUSED = 5, DNS_RCODE_BADVERS = 16 };
#define DNS_DROP (-1000)

/* header flag bits */
#define DNS_QR 0x8000
#define DNS_AA 0x0400
#define DNS_TC 0x0200
#define DNS_RD 0x0100
#define DNS_RA 0x0080
#define DNS_OPCODE(f) (((f) >> 11) & 0xf)

struct dns_query {
	uint16_t id, flags;
	uint16_t qtype, qclass;
	/* the question name: on the wire (uncompressed, as the client spelled
	 * it, for echoing) and as dotted text, lower-cased, no trailing dot
	 * ("" for the root) */
	uint8_t qname_wire[DNS_NAME_MAX];
	size_t qname_wire_len;
	char qname[DNS_NAME_MAX + 1];
	bool edns;			/* an OPT record was present */
	uint16_t udp_size;		/* what the answer may use over UDP: 512, or EDNS0's (512..4096) */
	uint8_t edns_version;
	bool edns_do;
};

/* Parse a query. On -FORMERR/-NOTIMP q->id, q->flags and (if it parsed) the
 * question are filled, enough for dns_build_error(). */
int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q);

/* Read a possibly compressed name at *off into dotted, lower-cased text
 * (out: DNS_NAME_MAX + 1 bytes); *off moves past it. -1 if malformed. Labels
 * holding '.' or bytes outside printable ASCII are rejected: no name we serve
 * has them, and refusing them keeps text and wire forms one-to-one. */
int dns_name_read(const uint8_t *pkt, size_t len, size_t *off, char *out);
/* Text name ("a.b", "a.b." or "" for the root) to uncompressed wire form;
 * returns the length, -1 if a label is empty or over 63, or the name over 255. */
int dns_name_to_wire(const char *name, uint8_t *out, size_t size);

/* Building an answer into buf (at most `limit` bytes: the client's UDP size
 * or DNS_TCP_MAX). Records that do not fit are dropped and TC is set. */
struct dns_builder {
	uint8_t *buf;
	size_t cap, len, limit;
	size_t reserve;			/* kept free for the OPT record */
	uint16_t ancount;
	uint8_t ext_rcode;		/* the rcode's upper 8 bits, for the OPT */
	bool truncated;
	const struct dns_query *q;
};

/* Header and question of the answer to q, with rcode (RA set, RD copied;
 * an extended rcode's upper bits go in the OPT). */
void dns_build_start(struct dns_builder *b, uint8_t *buf, size_t cap, size_t limit, const struct dns_query *q,
		     int rcode);
/* An answer record whose owner is the question name. rdata as on the wire. */
void dns_build_answer(struct dns_builder *b, uint16_t type, uint32_t ttl, const void *rdata, size_t rdlen);
/* A PTR answer: target is a text name. */
void dns_build_ptr(struct dns_builder *b, uint32_t ttl, const char *target);
/* Finish (counts, TC, OPT if the query had one); returns the length. */
size_t dns_build_end(struct dns_builder *b);
/* The whole answer for a query that only gets an rcode (FORMERR, NOTIMP,
 * SERVFAIL, NXDOMAIN, REFUSED). For a FORMERR whose question did not parse,
 * the answer has no question. */
size_t dns_build_error(uint8_t *buf, size_t cap, size_t limit, const struct dns_query *q, int rcode);

/* An upstream's answer relayed to a client: the client's id goes in, and if
 * it is longer than limit it becomes header + question with TC (the client
 * asks again over TCP). Returns the new length, or 0 if `ans` is not a
 * response to q (wrong question, malformed header): the caller answers
 * SERVFAIL instead. */
size_t dns_relay(uint8_t *ans, size_t len, size_t limit, const struct dns_query *q);

/* TCP (RFC 1035 4.2.2, RFC 7766): each message is preceded by its length
 * as two bytes. A connection's input accumulates in a dns_tcp_in;
 * dns_tcp_next() hands out one whole message at a time. */
struct dns_tcp_in {
	uint8_t buf[2 + DNS_TCP_MAX];
	size_t len;
};
/* Where to read into and how much room is left (0: full, the caller
 * must consume first). */
static inline uint8_t *dns_tcp_space(struct dns_tcp_in *t, size_t *room)
{
	*room = sizeof(t->buf) - t->len;
	return t->buf + t->len;
}
/* 1 and msg, mlen set if a whole message is buffered, 0 if more is needed.
 * The message stays valid until dns_tcp_consume(). */
int dns_tcp_next(const struct dns_tcp_in *t, const uint8_t **msg, size_t *mlen);
void dns_tcp_consume(struct dns_tcp_in *t);

#endif
