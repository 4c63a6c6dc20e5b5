/* libFuzzer: arbitrary bytes as a DNS packet, three ways: as a query from a
 * container (parsed, then answered from a small record store or with an
 * error rcode), as an upstream's answer being relayed, and as a TCP stream.
 * Nothing may read or write outside its buffer; every answer must fit the
 * limit it was built for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netd/dns_msg.h"
#include "netd/dns_store.h"

static struct dns_store *store(void)
{
	static struct dns_store *s;
	static const char *const aliases[] = {"www", "Shared"};
	struct netd_addr a[2];
	struct dns_link l = {"db", "database"};
	struct dns_ep_info ep = {"blue:c1:eth0", "/run/netns/c1", "blue", "web", aliases, 2, &l, 1, a, 2};

	if (s)
		return s;
	s = dns_store_new();
	netd_addr_parse("10.0.0.2", &a[0]);
	netd_addr_parse("fd00::2", &a[1]);
	dns_store_put(s, &ep);
	ep = (struct dns_ep_info){"blue:c2:eth0", "/run/netns/c2", "blue", "db", aliases + 1, 1, NULL, 0, a, 1};
	netd_addr_parse("10.0.0.3", &a[0]);
	dns_store_put(s, &ep);
	ep = (struct dns_ep_info){"red:c3:eth0", "/run/netns/c3", "red", "cache", NULL, 0, NULL, 0, a, 1};
	netd_addr_parse("10.1.0.3", &a[0]);
	dns_store_put(s, &ep);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_tcp_in t;
	static uint8_t out[DNS_TCP_MAX];
	struct dns_query q;
	struct dns_builder b;
	uint8_t *copy;
	const uint8_t *m;
	size_t len, room, ml;
	int rc = dns_parse_query(data, size, &q);

	if (rc == 0) {
		size_t limit = size & 1 ? DNS_TCP_MAX : q.udp_size;

		dns_build_start(&b, out, sizeof(out), limit, &q, DNS_RCODE_NOERROR);
		if (dns_store_answer(store(), size & 2 ? "/run/netns/c1" : "/run/netns/c3", &q, &b) ==
		    DNS_STORE_NXDOMAIN)
			len = dns_build_error(out, sizeof(out), limit, &q, DNS_RCODE_NXDOMAIN);
		else
			len = dns_build_end(&b);
		if (len > limit)
			abort();
	} else if (rc != DNS_DROP) {
		len = dns_build_error(out, sizeof(out), q.udp_size, &q, -rc);
		if (len > q.udp_size || len < DNS_HDR_LEN)
			abort();
	}
	/* relayed: a copy of exactly size bytes, so ASan sees any overrun */
	if ((copy = malloc(size ? size : 1))) {
		memcpy(copy, data, size);
		if (dns_relay(copy, size, 512, &q) > (size < 512 ? size : 512))
			abort();
		free(copy);
	}
	/* a stream: whatever fits, then every whole message */
	memcpy(dns_tcp_space(&t, &room), data, size < room ? size : room);
	t.len += size < room ? size : room;
	while (dns_tcp_next(&t, &m, &ml) == 1) {
		dns_parse_query(m, ml, &q);
		dns_tcp_consume(&t);
	}
	if (t.len == sizeof(t.buf))
		t.len = 0;
	return 0;
}
