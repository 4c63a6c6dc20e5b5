/* libFuzzer: arbitrary bytes as an upstream's answer offered to the cache
 * (the question taken from the answer itself, so that it is often the one
 * asked), then asked for again at later times, by clients with and without
 * EDNS, within UDP and TCP limits. Nothing may read or write outside its
 * buffer; a served answer must fit its limit and carry the client's id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netd/dns_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_cache *c;
	static uint8_t out[DNS_TCP_MAX];
	uint8_t qp[DNS_HDR_LEN + DNS_NAME_MAX + 4 + 11], *copy;
	char name[DNS_NAME_MAX + 1];
	size_t off = DNS_HDR_LEN, n;
	struct dns_query q;

	if (!c)
		c = dns_cache_new(8); /* small: eviction runs all the time */
	if (size < DNS_HDR_LEN || dns_name_read(data, size, &off, name) < 0 || off + 4 > size ||
	    off + 4 > DNS_HDR_LEN + DNS_NAME_MAX + 4)
		return 0;
	/* the query: the answer's header without QR and counts, its question, and
	 * an OPT when the id's low bit says so */
	memcpy(qp, data, off + 4);
	qp[2] &= 0x7f;
	memset(qp + 4, 0, 8);
	qp[5] = 1;
	n = off + 4;
	if (data[1] & 1) {
		static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};

		memcpy(qp + n, opt, sizeof(opt));
		n += sizeof(opt);
		qp[11] = 1;
	}
	if (dns_parse_query(qp, n, &q) < 0)
		return 0;
	/* exactly size bytes, so ASan sees any overrun */
	if (!(copy = malloc(size)))
		return 0;
	memcpy(copy, data, size);
	dns_cache_put(c, data[0] & 1 ? "10.0.0.1" : "", &q, copy, size, 1000);
	free(copy);
	for (uint64_t t = 1000; t < 400000; t += 50000) {
		size_t limit = t & 1 ? DNS_TCP_MAX : q.udp_size;

		q.id = (uint16_t)(t ^ 0x5a5a);
		n = dns_cache_get(c, data[0] & 1 ? "10.0.0.1" : "", &q, t, out, sizeof(out), limit);
		if (n && (n > limit || n < DNS_HDR_LEN || out[0] != (uint8_t)(q.id >> 8) || out[1] != (uint8_t)q.id))
			abort();
	}
	return 0;
}
