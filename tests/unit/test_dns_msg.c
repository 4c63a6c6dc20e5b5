/* DNS wire format: queries parse strictly, answers are built within limits,
 * relayed answers get the client's id, TCP framing splits a stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netd/dns_msg.h"

/* A query for name/qtype; edns > 0 adds an OPT with that payload size. */
static size_t mkq(uint8_t *p, uint16_t id, uint16_t flags, const char *name, uint16_t qtype, uint16_t edns)
{
	size_t n = DNS_HDR_LEN;
	int w;

	memset(p, 0, DNS_HDR_LEN);
	p[0] = id >> 8, p[1] = id & 0xff, p[2] = flags >> 8, p[3] = flags & 0xff;
	p[5] = 1;
	w = dns_name_to_wire(name, p + n, 300);
	assert_true(w > 0);
	n += (size_t)w;
	p[n++] = 0, p[n++] = (uint8_t)qtype, p[n++] = 0, p[n++] = 1;
	if (edns) {
		p[11] = 1;
		p[n++] = 0;
		p[n++] = 0, p[n++] = 41;
		p[n++] = edns >> 8, p[n++] = edns & 0xff;
		p[n++] = 0, p[n++] = 0, p[n++] = 0x80, p[n++] = 0; /* DO */
		p[n++] = 0, p[n++] = 0;
	}
	return n;
}

static void test_parse_basic(void **state)
{
	uint8_t p[512];
	struct dns_query q;
	size_t n = mkq(p, 0x1234, DNS_RD, "Web.Blue", DNS_TYPE_A, 0);

	assert_int_equal(dns_parse_query(p, n, &q), 0);
	assert_int_equal(q.id, 0x1234);
	assert_string_equal(q.qname, "web.blue");
	assert_int_equal(q.qtype, DNS_TYPE_A);
	assert_false(q.edns);
	assert_int_equal(q.udp_size, 512);
	/* the question is echoed as the client spelled it */
	assert_int_equal(q.qname_wire_len, 10);
	assert_memory_equal(q.qname_wire, "\3Web\4Blue", 10);

	n = mkq(p, 1, 0, "x", DNS_TYPE_AAAA, 1232);
	assert_int_equal(dns_parse_query(p, n, &q), 0);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.udp_size, 1232);
	n = mkq(p, 1, 0, "x", DNS_TYPE_AAAA, 100); /* below 512 counts as 512 */
	assert_int_equal(dns_parse_query(p, n, &q), 0);
	assert_int_equal(q.udp_size, 512);
	n = mkq(p, 1, 0, "x", DNS_TYPE_AAAA, 65000); /* capped */
	assert_int_equal(dns_parse_query(p, n, &q), 0);
	assert_int_equal(q.udp_size, DNS_UDP_MAX);
	n = mkq(p, 1, 0, ".", DNS_TYPE_NS, 0);
	assert_int_equal(dns_parse_query(p, n, &q), 0);
	assert_string_equal(q.qname, "");
}

static void test_parse_rejects(void **state)
{
	uint8_t p[1024];
	struct dns_query q;
	size_t n;

	n = mkq(p, 7, 0, "a.b", DNS_TYPE_A, 0);
	assert_int_equal(dns_parse_query(p, 11, &q), DNS_DROP);		/* shorter than a header */
	assert_int_equal(dns_parse_query(p, n - 1, &q), -DNS_RCODE_FORMERR);	/* cut question */
	assert_int_equal(q.id, 7);
	p[n] = 0;
	assert_int_equal(dns_parse_query(p, n + 1, &q), -DNS_RCODE_FORMERR);	/* trailing byte */
	p[2] |= 0x80;
	assert_int_equal(dns_parse_query(p, n, &q), DNS_DROP);		/* a response */
	p[2] = 2 << 3;
	assert_int_equal(dns_parse_query(p, n, &q), -DNS_RCODE_NOTIMP);	/* opcode STATUS */
	p[2] = 0;
	p[5] = 2;
	assert_int_equal(dns_parse_query(p, n, &q), -DNS_RCODE_FORMERR);	/* two questions */
	p[5] = 1;
	p[7] = 1;
	assert_int_equal(dns_parse_query(p, n, &q), -DNS_RCODE_FORMERR);	/* an answer in a query */
	p[7] = 0;
	p[n - 1] = 3; /* class CH */
	assert_int_equal(dns_parse_query(p, n, &q), -DNS_RCODE_NOTIMP);

	/* compression: pointer to itself, forward, into the header, a loop of two */
	static const uint8_t self[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
	assert_int_equal(dns_parse_query(self, sizeof(self), &q), -DNS_RCODE_FORMERR);
	static const uint8_t fwd[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 18, 0, 1, 0, 1, 1, 'a', 0};
	assert_int_equal(dns_parse_query(fwd, sizeof(fwd), &q), -DNS_RCODE_FORMERR);
	static const uint8_t hdr[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 2, 0, 1, 0, 1};
	assert_int_equal(dns_parse_query(hdr, sizeof(hdr), &q), -DNS_RCODE_FORMERR);
	static const uint8_t two[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 17, 0xc0, 12, 0, 1, 0, 1};
	assert_int_equal(dns_parse_query(two, sizeof(two), &q), -DNS_RCODE_FORMERR);
	static const uint8_t badlabel[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 'a', 0, 0, 1, 0, 1};
	assert_int_equal(dns_parse_query(badlabel, sizeof(badlabel), &q), -DNS_RCODE_FORMERR);
	static const uint8_t dot[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 'b', 0, 0, 1, 0, 1};
	assert_int_equal(dns_parse_query(dot, sizeof(dot), &q), -DNS_RCODE_FORMERR);

	/* a name over 255 bytes on the wire */
	memset(p, 0, DNS_HDR_LEN);
	p[5] = 1;
	n = DNS_HDR_LEN;
	for (int i = 0; i < 5; i++) {
		p[n++] = 60;
		memset(p + n, 'a', 60);
		n += 60;
	}
	p[n++] = 0, p[n++] = 0, p[n++] = 1, p[n++] = 0, p[n++] = 1;
	assert_int_equal(dns_parse_query(p, n, &q), -DNS_RCODE_FORMERR);

	/* EDNS: two OPTs; an OPT not at the root; an option running past rdata */
	n = mkq(p, 1, 0, "x", DNS_TYPE_A, 1232);
	memcpy(p + n, p + n - 11, 11);
	p[11] = 2;
	assert_int_equal(dns_parse_query(p, n + 11, &q), -DNS_RCODE_FORMERR);
	static const uint8_t optname[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1,
					  1, 'b', 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(dns_parse_query(optname, sizeof(optname), &q), -DNS_RCODE_FORMERR);
	static const uint8_t optlen[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1,
					 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 9, 1, 2};
	assert_int_equal(dns_parse_query(optlen, sizeof(optlen), &q), -DNS_RCODE_FORMERR);
	/* rdlength past the end */
	static const uint8_t rdlen[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1,
					0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 20};
	assert_int_equal(dns_parse_query(rdlen, sizeof(rdlen), &q), -DNS_RCODE_FORMERR);
}

/* RFC 6891 6.1.3: an EDNS version we do not implement (only 0) is BADVERS,
 * an extended rcode (16): 0 in the header, 1 in the OPT's upper bits, and
 * the OPT says which version we speak (0) */
static void test_edns_badvers(void **state)
{
	uint8_t p[512], out[512];
	struct dns_query q;
	size_t n = mkq(p, 7, DNS_RD, "db", DNS_TYPE_A, 1232), len;
	int rc;

	p[n - 5] = 1; /* the OPT's version byte */
	rc = dns_parse_query(p, n, &q);
	assert_int_equal(rc, -DNS_RCODE_BADVERS);
	len = dns_build_error(out, sizeof(out), q.udp_size, &q, -rc);
	assert_int_equal(len, DNS_HDR_LEN + 8 + 11);
	assert_int_equal(out[3] & 0xf, 0);
	assert_int_equal(out[7], 0);		/* no answers */
	assert_int_equal(out[11], 1);		/* the OPT */
	assert_int_equal(out[len - 11 + 5], 1);	/* extended rcode: 16 >> 4 */
	assert_int_equal(out[len - 11 + 6], 0);	/* our version */
	/* version 0 parses; other rcodes keep the OPT's upper bits 0 */
	p[n - 5] = 0;
	assert_int_equal(dns_parse_query(p, n, &q), 0);
	len = dns_build_error(out, sizeof(out), q.udp_size, &q, DNS_RCODE_NXDOMAIN);
	assert_int_equal(out[3] & 0xf, DNS_RCODE_NXDOMAIN);
	assert_int_equal(out[len - 11 + 5], 0);
}

static void test_name_read_compressed(void **state)
{
	/* header, then "web.blue" at 12, then "db" + pointer to "blue" at 16 */
	static const uint8_t p[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'w', 'e', 'b', 4, 'B', 'l', 'u', 'e', 0,
				    2, 'd', 'b', 0xc0, 16};
	char out[DNS_NAME_MAX + 1];
	size_t off = 22;

	assert_int_equal(dns_name_read(p, sizeof(p), &off, out), 0);
	assert_string_equal(out, "db.blue");
	assert_int_equal(off, sizeof(p));
	off = 22;
	assert_int_equal(dns_name_read(p, sizeof(p) - 1, &off, out), -1); /* pointer cut */

	uint8_t w[DNS_NAME_MAX];
	assert_int_equal(dns_name_to_wire("a..b", w, sizeof(w)), -1);
	assert_int_equal(dns_name_to_wire("a.b.", w, sizeof(w)), 5);
	assert_int_equal(dns_name_to_wire("", w, sizeof(w)), 1);
	char big[80];
	memset(big, 'x', 64);
	big[64] = 0;
	assert_int_equal(dns_name_to_wire(big, w, sizeof(w)), -1); /* label over 63 */
}

static void test_build(void **state)
{
	uint8_t p[512], out[DNS_TCP_MAX];
	struct dns_query q;
	struct dns_builder b;
	size_t n = mkq(p, 0xbeef, DNS_RD, "Alias", DNS_TYPE_A, 0), len;
	uint8_t a[4] = {10, 0, 0, 1};

	assert_int_equal(dns_parse_query(p, n, &q), 0);
	dns_build_start(&b, out, sizeof(out), q.udp_size, &q, DNS_RCODE_NOERROR);
	for (int i = 0; i < 200; i++)
		dns_build_answer(&b, DNS_TYPE_A, 600, a, 4);
	len = dns_build_end(&b);
	assert_true(len <= 512);
	assert_true(b.truncated);
	assert_int_equal(out[0], 0xbe);
	assert_int_equal(out[2] & 0x82, 0x82); /* QR, TC */
	assert_int_equal(out[2] & 1, 1);       /* RD copied */
	assert_int_equal(out[3] & 0x80, 0x80); /* RA */
	assert_int_equal((out[6] << 8 | out[7]) * 16 + 12 + 11, len); /* header, question, whole records */
	assert_memory_equal(out + 12, "\5Alias", 6);

	/* over TCP all 200 fit */
	dns_build_start(&b, out, sizeof(out), DNS_TCP_MAX, &q, DNS_RCODE_NOERROR);
	for (int i = 0; i < 200; i++)
		dns_build_answer(&b, DNS_TYPE_A, 600, a, 4);
	len = dns_build_end(&b);
	assert_false(b.truncated);
	assert_int_equal(out[6] << 8 | out[7], 200);
	assert_int_equal(len, 12 + 11 + 200 * 16); /* header, question, records */

	/* EDNS: OPT in the answer, its size honoured */
	n = mkq(p, 1, 0, "x", DNS_TYPE_A, 1232);
	assert_int_equal(dns_parse_query(p, n, &q), 0);
	dns_build_start(&b, out, sizeof(out), q.udp_size, &q, DNS_RCODE_NOERROR);
	for (int i = 0; i < 200; i++)
		dns_build_answer(&b, DNS_TYPE_A, 600, a, 4);
	len = dns_build_end(&b);
	assert_true(len <= 1232 && len > 1200);
	assert_int_equal(out[11], 1); /* arcount: the OPT */
	assert_int_equal(out[len - 11 + 2], 41);

	/* errors */
	len = dns_build_error(out, sizeof(out), 512, &q, DNS_RCODE_NXDOMAIN);
	assert_int_equal(out[3] & 0xf, 3);
	assert_int_equal(out[5], 1);
	assert_int_equal(out[7], 0);
	/* a FORMERR whose question did not parse carries no question */
	static const uint8_t self[] = {0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
	assert_int_equal(dns_parse_query(self, sizeof(self), &q), -DNS_RCODE_FORMERR);
	len = dns_build_error(out, sizeof(out), 512, &q, DNS_RCODE_FORMERR);
	assert_int_equal(len, 12);
	assert_int_equal(out[1], 9);
	assert_int_equal(out[3] & 0xf, 1);
	assert_int_equal(out[5], 0);

	/* PTR target */
	n = mkq(p, 1, 0, "1.0.0.10.in-addr.arpa", DNS_TYPE_PTR, 0);
	assert_int_equal(dns_parse_query(p, n, &q), 0);
	dns_build_start(&b, out, sizeof(out), 512, &q, 0);
	dns_build_ptr(&b, 600, "web.blue");
	len = dns_build_end(&b);
	assert_int_equal(out[7], 1);
	assert_memory_equal(out + len - 10, "\3web\4blue\0", 10);
}

static void test_relay(void **state)
{
	uint8_t p[512], ans[2048];
	struct dns_query q;
	size_t n = mkq(p, 0x4242, DNS_RD, "example.org", DNS_TYPE_A, 0), len;

	assert_int_equal(dns_parse_query(p, n, &q), 0);
	/* the upstream's answer: another id, the name in other case, 100 records */
	memcpy(ans, p, n);
	ans[0] = 0x99, ans[1] = 0x99, ans[2] |= 0x80;
	ans[13] = 'E';
	len = n;
	for (int i = 0; i < 100; i++) {
		static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
		memcpy(ans + len, rr, sizeof(rr));
		len += sizeof(rr);
	}
	ans[7] = 100;
	assert_int_equal(dns_relay(ans, len, 4096, &q), len);
	assert_int_equal(ans[0] << 8 | ans[1], 0x4242);
	/* too big for 512: question only, TC */
	assert_int_equal(dns_relay(ans, len, 512, &q), n);
	assert_int_equal(ans[2] & 0x82, 0x82);
	assert_int_equal(ans[7], 0);
	/* not an answer to this question */
	ans[14] = 'z';
	assert_int_equal(dns_relay(ans, len, 4096, &q), 0);
	assert_int_equal(dns_relay(ans, 5, 4096, &q), 0);
}

static void test_tcp_framing(void **state)
{
	static struct dns_tcp_in t;
	const uint8_t *m;
	size_t room, ml;
	uint8_t *w = dns_tcp_space(&t, &room);

	assert_int_equal(room, 2 + DNS_TCP_MAX);
	memcpy(w, "\0\3abc\0\2d", 8);
	t.len = 8;
	assert_int_equal(dns_tcp_next(&t, &m, &ml), 1);
	assert_int_equal(ml, 3);
	assert_memory_equal(m, "abc", 3);
	dns_tcp_consume(&t);
	assert_int_equal(t.len, 3);
	assert_int_equal(dns_tcp_next(&t, &m, &ml), 0); /* "d" of 2 */
	w = dns_tcp_space(&t, &room);
	*w = 'e';
	t.len++;
	assert_int_equal(dns_tcp_next(&t, &m, &ml), 1);
	assert_memory_equal(m, "de", 2);
	dns_tcp_consume(&t);
	assert_int_equal(t.len, 0);
	assert_int_equal(dns_tcp_next(&t, &m, &ml), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_edns_badvers),
		cmocka_unit_test(test_name_read_compressed),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_tcp_framing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
