/* The answer cache: answers come back with the asker's id and spelling and
 * aged TTLs, live for their smallest TTL (negative ones for the SOA
 * minimum), stay apart per upstream set, and the least recently used go
 * first when it is full. The clock is the test's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "netd/dns_cache.h"

#define S 1000ULL /* ms */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* q: a parsed query for name (as spelled) from a client with this id;
 * edns > 0: with an OPT of that size, DO if do_bit */
static void mkq(struct dns_query *q, uint16_t id, const char *name, uint16_t qtype, uint16_t edns, int do_bit)
{
	uint8_t p[512];
	size_t n = DNS_HDR_LEN;
	int w;

	memset(p, 0, DNS_HDR_LEN);
	p[0] = (uint8_t)(id >> 8), p[1] = (uint8_t)id, p[2] = DNS_RD >> 8, p[5] = 1;
	w = dns_name_to_wire(name, p + n, 300);
	assert_true(w > 0);
	n += (size_t)w;
	p[n++] = (uint8_t)(qtype >> 8), p[n++] = (uint8_t)qtype, p[n++] = 0, p[n++] = 1;
	if (edns) {
		p[11] = 1;
		p[n++] = 0, p[n++] = 0, p[n++] = 41, p[n++] = (uint8_t)(edns >> 8), p[n++] = (uint8_t)edns;
		p[n++] = 0, p[n++] = 0, p[n++] = do_bit ? 0x80 : 0, p[n++] = 0, p[n++] = 0, p[n++] = 0;
	}
	assert_int_equal(dns_parse_query(p, n, q), 0);
}

/* An upstream's answer, built section by section in order. */
struct ans {
	uint8_t b[DNS_TCP_MAX];
	size_t n;
};

static void a_start(struct ans *a, const struct dns_query *q, uint16_t flags)
{
	memset(a, 0, sizeof(*a));
	a->b[0] = 0xbe, a->b[1] = 0xef; /* c-ares' id, not the client's */
	a->b[2] = (uint8_t)((DNS_QR | DNS_RD | DNS_RA | flags) >> 8), a->b[3] = (uint8_t)((DNS_RA | flags) & 0xff);
	a->b[5] = 1;
	a->n = DNS_HDR_LEN;
	memcpy(a->b + a->n, q->qname_wire, q->qname_wire_len);
	a->n += q->qname_wire_len;
	a->b[a->n++] = (uint8_t)(q->qtype >> 8), a->b[a->n++] = (uint8_t)q->qtype, a->b[a->n++] = 0,
	a->b[a->n++] = 1;
}

/* a record owned by the question's name; sec 0 answer, 1 authority, 2 additional */
static void a_rr(struct ans *a, int sec, uint16_t type, uint32_t ttl, const void *rdata, uint16_t rdlen)
{
	uint8_t *p = a->b + a->n;

	p[0] = 0xc0, p[1] = DNS_HDR_LEN, p[2] = (uint8_t)(type >> 8), p[3] = (uint8_t)type, p[4] = 0, p[5] = 1;
	p[6] = (uint8_t)(ttl >> 24), p[7] = (uint8_t)(ttl >> 16), p[8] = (uint8_t)(ttl >> 8), p[9] = (uint8_t)ttl;
	p[10] = (uint8_t)(rdlen >> 8), p[11] = (uint8_t)rdlen;
	memcpy(p + 12, rdata, rdlen);
	a->n += 12u + rdlen;
	a->b[7 + 2 * sec]++;
}

static void a_opt(struct ans *a)
{
	static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};

	memcpy(a->b + a->n, opt, sizeof(opt));
	a->n += sizeof(opt);
	a->b[11]++;
}

/* an SOA whose minimum is min: "\1a\0" "\1b\0" and five numbers */
static void a_soa(struct ans *a, uint32_t ttl, uint32_t min)
{
	uint8_t r[26] = {1, 'a', 0, 1, 'b', 0, 0, 0, 0, 1, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0, 60};

	r[22] = (uint8_t)(min >> 24), r[23] = (uint8_t)(min >> 16), r[24] = (uint8_t)(min >> 8), r[25] = (uint8_t)min;
	a_rr(a, 1, DNS_TYPE_SOA, ttl, r, sizeof(r));
}

static const uint8_t ip1[4] = {192, 0, 2, 1}, ip2[4] = {192, 0, 2, 2};

static void test_hit_is_the_clients(void **state)
{
	struct dns_cache *c = dns_cache_new(16);
	struct dns_query q, q2;
	struct ans a;
	uint8_t out[DNS_TCP_MAX];
	size_t n, qend;

	(void)state;
	mkq(&q, 1, "www.example.org", DNS_TYPE_A, 1232, 0);
	a_start(&a, &q, DNS_AA);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	a_rr(&a, 0, DNS_TYPE_A, 200, ip2, 4);
	a_opt(&a);
	assert_int_equal(dns_cache_get(c, "", &q, 0, out, sizeof(out), DNS_TCP_MAX), 0);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 1);

	/* another client, another id and spelling, no EDNS, 30 s later */
	mkq(&q2, 0x4242, "WWW.Example.ORG", DNS_TYPE_A, 0, 0);
	n = dns_cache_get(c, "", &q2, 30 * S + 500, out, sizeof(out), 512);
	qend = DNS_HDR_LEN + q2.qname_wire_len + 4;
	assert_int_equal(n, qend + 2 * 16);
	assert_int_equal(get16(out), 0x4242);
	assert_int_equal(out[3] & 0xf, DNS_RCODE_NOERROR);
	assert_false(out[2] & (DNS_AA >> 8)); /* a copy, not the authority's word */
	assert_true(out[2] & (DNS_RD >> 8));
	assert_memory_equal(out + DNS_HDR_LEN, "\3WWW\7Example\3ORG", q2.qname_wire_len);
	assert_int_equal(get16(out + 6), 2);
	assert_int_equal(get16(out + 10), 0); /* no OPT for a client that sent none */
	assert_int_equal(get32(out + qend + 6), 70);
	assert_memory_equal(out + qend + 12, ip1, 4);
	assert_int_equal(get32(out + qend + 16 + 6), 170);
	assert_memory_equal(out + qend + 16 + 12, ip2, 4);

	/* a client with EDNS gets an OPT back; the stored answer kept its own TTLs */
	mkq(&q2, 7, "www.example.org", DNS_TYPE_A, 4096, 0);
	n = dns_cache_get(c, "", &q2, 50 * S, out, sizeof(out), 4096);
	assert_int_equal(n, qend + 2 * 16 + 11);
	assert_int_equal(get16(out), 7);
	assert_int_equal(get16(out + 10), 1);
	assert_int_equal(get16(out + qend + 16 + 16 + 1), DNS_TYPE_OPT);
	assert_int_equal(get32(out + qend + 6), 50);
	assert_int_equal(dns_cache_stats(c)->hits, 2);
	assert_int_equal(dns_cache_stats(c)->misses, 1);
	assert_int_equal(dns_cache_stats(c)->entries, 1);
	assert_true(dns_cache_stats(c)->bytes > a.n - 11);
	dns_cache_free(c);
}

static void test_ttl_expiry(void **state)
{
	struct dns_cache *c = dns_cache_new(16);
	struct dns_query q;
	struct ans a;
	uint8_t out[DNS_TCP_MAX];

	(void)state;
	/* the smallest TTL, authority and additional records included */
	mkq(&q, 1, "a.test", DNS_TYPE_A, 0, 0);
	a_start(&a, &q, 0);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	a_rr(&a, 2, DNS_TYPE_A, 40, ip2, 4);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 1000 * S), 1);
	assert_true(dns_cache_get(c, "", &q, 1039 * S + 999, out, sizeof(out), 512) > 0);
	assert_int_equal(dns_cache_get(c, "", &q, 1040 * S, out, sizeof(out), 512), 0);
	assert_int_equal(dns_cache_stats(c)->entries, 0);

	/* a day's TTL is kept for DNS_CACHE_TTL_MAX */
	a_start(&a, &q, 0);
	a_rr(&a, 0, DNS_TYPE_A, 86400, ip1, 4);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 1);
	assert_true(dns_cache_get(c, "", &q, DNS_CACHE_TTL_MAX * S - 1, out, sizeof(out), 512) > 0);
	assert_int_equal(get32(out + DNS_HDR_LEN + q.qname_wire_len + 4 + 6), 86400 - (DNS_CACHE_TTL_MAX - 1));
	assert_int_equal(dns_cache_get(c, "", &q, DNS_CACHE_TTL_MAX * S, out, sizeof(out), 512), 0);

	/* TTL 0: not kept at all */
	a_start(&a, &q, 0);
	a_rr(&a, 0, DNS_TYPE_A, 0, ip1, 4);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 0);
	assert_int_equal(dns_cache_get(c, "", &q, 0, out, sizeof(out), 512), 0);
	dns_cache_free(c);
}

static void test_negative(void **state)
{
	struct dns_cache *c = dns_cache_new(16);
	struct dns_query q;
	struct ans a;
	uint8_t out[DNS_TCP_MAX];
	size_t n;

	(void)state;
	/* NXDOMAIN: for the SOA's minimum */
	mkq(&q, 1, "nope.test", DNS_TYPE_A, 0, 0);
	a_start(&a, &q, DNS_RCODE_NXDOMAIN);
	a_soa(&a, 3600, 30);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 1);
	n = dns_cache_get(c, "", &q, 29 * S, out, sizeof(out), 512);
	assert_int_equal(n, a.n);
	assert_int_equal(out[3] & 0xf, DNS_RCODE_NXDOMAIN);
	assert_int_equal(get16(out + 8), 1);
	assert_int_equal(dns_cache_get(c, "", &q, 30 * S, out, sizeof(out), 512), 0);

	/* NODATA: the same rule, capped at DNS_CACHE_NEG_TTL_MAX */
	mkq(&q, 1, "v4only.test", DNS_TYPE_AAAA, 0, 0);
	a_start(&a, &q, 0);
	a_soa(&a, 3600, 900);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 1);
	assert_true(dns_cache_get(c, "", &q, DNS_CACHE_NEG_TTL_MAX * S - 1, out, sizeof(out), 512) > 0);
	assert_int_equal(out[3] & 0xf, DNS_RCODE_NOERROR);
	assert_int_equal(get16(out + 6), 0);
	assert_int_equal(dns_cache_get(c, "", &q, DNS_CACHE_NEG_TTL_MAX * S, out, sizeof(out), 512), 0);

	/* a negative answer without an SOA says nothing of how long it holds */
	mkq(&q, 1, "nosoa.test", DNS_TYPE_A, 0, 0);
	a_start(&a, &q, DNS_RCODE_NXDOMAIN);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 0);

	/* never SERVFAIL, REFUSED, truncated or malformed answers */
	a_start(&a, &q, DNS_RCODE_SERVFAIL);
	a_soa(&a, 3600, 30);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 0);
	a_start(&a, &q, DNS_RCODE_REFUSED);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 0);
	a_start(&a, &q, DNS_TC);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 0);
	a_start(&a, &q, 0);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n - 1, 0), 0);	/* cut short */
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n + 1, 0), 0);	/* trailing junk */
	a.b[DNS_HDR_LEN + 1] = 'x';						/* another question */
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 0);
	assert_int_equal(dns_cache_get(c, "", &q, 0, out, sizeof(out), 512), 0);
	assert_int_equal(dns_cache_stats(c)->stored, 2);
	dns_cache_free(c);
}

static void test_key_separation(void **state)
{
	struct dns_cache *c = dns_cache_new(16);
	struct dns_query q, other;
	struct ans a;
	uint8_t out[DNS_TCP_MAX];

	(void)state;
	mkq(&q, 1, "svc.corp", DNS_TYPE_A, 1232, 0);
	a_start(&a, &q, 0);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_int_equal(dns_cache_put(c, "10.0.0.1,10.0.0.2", &q, a.b, a.n, 0), 1);
	assert_true(dns_cache_get(c, "10.0.0.1,10.0.0.2", &q, 0, out, sizeof(out), 512) > 0);
	/* another network's servers, or the host's, do not get it */
	assert_int_equal(dns_cache_get(c, "10.0.0.1", &q, 0, out, sizeof(out), 512), 0);
	assert_int_equal(dns_cache_get(c, "", &q, 0, out, sizeof(out), 512), 0);
	/* nor another type, or a DNSSEC-aware asker */
	mkq(&other, 1, "svc.corp", DNS_TYPE_AAAA, 1232, 0);
	assert_int_equal(dns_cache_get(c, "10.0.0.1,10.0.0.2", &other, 0, out, sizeof(out), 512), 0);
	mkq(&other, 1, "svc.corp", DNS_TYPE_A, 1232, 1);
	assert_int_equal(dns_cache_get(c, "10.0.0.1,10.0.0.2", &other, 0, out, sizeof(out), 512), 0);
	/* the same name through the other servers is its own entry */
	a_start(&a, &q, 0);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip2, 4);
	assert_int_equal(dns_cache_put(c, "10.0.0.1", &q, a.b, a.n, 0), 1);
	assert_true(dns_cache_get(c, "10.0.0.1", &q, 0, out, sizeof(out), 512) > 0);
	assert_memory_equal(out + DNS_HDR_LEN + q.qname_wire_len + 4 + 12, ip2, 4);
	assert_true(dns_cache_get(c, "10.0.0.1,10.0.0.2", &q, 0, out, sizeof(out), 512) > 0);
	assert_memory_equal(out + DNS_HDR_LEN + q.qname_wire_len + 4 + 12, ip1, 4);
	assert_int_equal(dns_cache_stats(c)->entries, 2);
	dns_cache_free(c);
}

static void test_eviction(void **state)
{
	struct dns_cache *c = dns_cache_new(4);
	struct dns_query q[6];
	struct ans a;
	uint8_t out[DNS_TCP_MAX];
	char name[16];

	(void)state;
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		mkq(&q[i], 1, name, DNS_TYPE_A, 0, 0);
	}
	for (int i = 0; i < 5; i++) {
		a_start(&a, &q[i], 0);
		a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
		assert_int_equal(dns_cache_put(c, "", &q[i], a.b, a.n, 0), 1);
	}
	/* the oldest went; n1 used again, so n2 is the next to go */
	assert_int_equal(dns_cache_get(c, "", &q[0], 0, out, sizeof(out), 512), 0);
	assert_true(dns_cache_get(c, "", &q[1], 0, out, sizeof(out), 512) > 0);
	a_start(&a, &q[5], 0);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_int_equal(dns_cache_put(c, "", &q[5], a.b, a.n, 0), 1);
	assert_int_equal(dns_cache_get(c, "", &q[2], 0, out, sizeof(out), 512), 0);
	for (int i = 1; i < 6; i++)
		if (i != 2)
			assert_true(dns_cache_get(c, "", &q[i], 0, out, sizeof(out), 512) > 0);
	assert_int_equal(dns_cache_stats(c)->entries, 4);
	assert_int_equal(dns_cache_stats(c)->evicted, 2);
	assert_true(dns_cache_stats(c)->bytes <= 4 * 1024);

	/* memory counts too: 4 entries may hold 4 KiB, so an answer of 3.2 KiB
	 * pushes out more than one small one */
	a_start(&a, &q[0], 0);
	for (int i = 0; i < 200; i++)
		a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_true(a.n > 3200);
	assert_int_equal(dns_cache_put(c, "", &q[0], a.b, a.n, 0), 1);
	assert_true(dns_cache_stats(c)->bytes <= 4 * 1024);
	assert_true(dns_cache_stats(c)->entries < 4);
	assert_true(dns_cache_stats(c)->evicted >= 4);
	assert_true(dns_cache_get(c, "", &q[0], 0, out, sizeof(out), DNS_TCP_MAX) > 3000);
	dns_cache_free(c);

	/* size 0: nothing kept */
	c = dns_cache_new(0);
	a_start(&a, &q[1], 0);
	a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_int_equal(dns_cache_put(c, "", &q[1], a.b, a.n, 0), 0);
	assert_int_equal(dns_cache_get(c, "", &q[1], 0, out, sizeof(out), 512), 0);
	dns_cache_free(c);
}

static void test_limit_and_tc(void **state)
{
	struct dns_cache *c = dns_cache_new(16);
	struct dns_query q;
	struct ans a;
	uint8_t out[DNS_TCP_MAX];
	size_t n, qend;

	(void)state;
	mkq(&q, 1, "many.test", DNS_TYPE_A, 4096, 0);
	a_start(&a, &q, 0);
	for (int i = 0; i < 40; i++)
		a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 1);
	qend = DNS_HDR_LEN + q.qname_wire_len + 4;
	/* over UDP without EDNS: the question with TC, as an uncached answer */
	mkq(&q, 9, "many.test", DNS_TYPE_A, 0, 0);
	n = dns_cache_get(c, "", &q, 0, out, sizeof(out), q.udp_size);
	assert_int_equal(n, qend);
	assert_true(out[2] & (DNS_TC >> 8));
	assert_int_equal(get16(out), 9);
	assert_int_equal(get16(out + 6), 0);
	/* the same client over TCP gets it all */
	n = dns_cache_get(c, "", &q, 0, out, sizeof(out), DNS_TCP_MAX);
	assert_int_equal(n, a.n);
	assert_false(out[2] & (DNS_TC >> 8));
	assert_int_equal(get16(out + 6), 40);
	/* answers over DNS_CACHE_ANSWER_MAX are left to the upstream */
	mkq(&q, 1, "huge.test", DNS_TYPE_A, 0, 0);
	a_start(&a, &q, 0);
	for (int i = 0; i < 300; i++)
		a_rr(&a, 0, DNS_TYPE_A, 100, ip1, 4);
	assert_true(a.n > DNS_CACHE_ANSWER_MAX);
	assert_int_equal(dns_cache_put(c, "", &q, a.b, a.n, 0), 0);
	dns_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_is_the_clients),
		cmocka_unit_test(test_ttl_expiry),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_key_separation),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_limit_and_tc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
