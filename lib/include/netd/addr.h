/* addr.h — IPv4/IPv6 addresses and prefixes as plain values.
 *
 * struct netd_addr holds either family in network byte order. A netd_prefix is an
 * address plus a length; parsing "10.1.2.3/24" keeps the host bits (it is an
 * interface address), netd_prefix_network() clears them (it is a subnet).
 */
#ifndef NETD_ADDR_H
#define NETD_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define NETD_ADDR_STRLEN INET6_ADDRSTRLEN
#define NETD_PREFIX_STRLEN (INET6_ADDRSTRLEN + 4)

struct netd_addr {
	int family; /* AF_INET, AF_INET6, or 0 = unset */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t b[16];
	};
};

struct netd_prefix {
	struct netd_addr addr;
	uint8_t len;
};

/* Parse; 0 or -EINVAL. Accepts only canonical inet_pton forms (no zones). */
int netd_addr_parse(const char *s, struct netd_addr *out);
/* "a.b.c.d/n" or "x::y/n"; -EINVAL on a missing or out-of-range length. */
int netd_prefix_parse(const char *s, struct netd_prefix *out);

/* Format into buf (NETD_ADDR_STRLEN / NETD_PREFIX_STRLEN bytes); returns buf. */
const char *netd_addr_str(const struct netd_addr *a, char *buf);
const char *netd_prefix_str(const struct netd_prefix *p, char *buf);

static inline size_t netd_addr_len(const struct netd_addr *a) { return a->family == AF_INET ? 4 : 16; }
static inline unsigned netd_addr_bits(const struct netd_addr *a) { return a->family == AF_INET ? 32 : 128; }

bool netd_addr_eq(const struct netd_addr *a, const struct netd_addr *b);
/* memcmp-style ordering within one family */
int netd_addr_cmp(const struct netd_addr *a, const struct netd_addr *b);
bool netd_addr_is_zero(const struct netd_addr *a);

/* Subnet of p: host bits cleared. */
struct netd_prefix netd_prefix_network(const struct netd_prefix *p);
bool netd_prefix_contains(const struct netd_prefix *net, const struct netd_addr *a);
/* Do the two subnets share any address? */
bool netd_prefix_overlaps(const struct netd_prefix *a, const struct netd_prefix *b);

/* a + delta within the family (wraps are reported as -ERANGE). */
int netd_addr_add(const struct netd_addr *a, int64_t delta, struct netd_addr *out);
/* First and last address of a subnet (network and broadcast address for v4). */
struct netd_addr netd_prefix_first(const struct netd_prefix *p);
struct netd_addr netd_prefix_last(const struct netd_prefix *p);

/* MAC addresses "aa:bb:cc:dd:ee:ff"; 0 or -EINVAL. */
int netd_mac_parse(const char *s, uint8_t mac[6]);
const char *netd_mac_str(const uint8_t mac[6], char buf[18]);

/* A locally administered unicast MAC derived from host_id (something unique
 * to the host) and name: the same for one host and name every time, and
 * different on another host. For links whose MAC must not change, such as a
 * bridge (which otherwise takes its lowest port's). */
void netd_mac_derive(const char *host_id, const char *name, uint8_t mac[6]);
/* netd_mac_derive with the host's /etc/machine-id. Without one (a bare
 * chroot), a random locally administered MAC: fixed once set on the link,
 * but not the same after the link is made again. */
void netd_mac_for_host(const char *name, uint8_t mac[6]);

#endif
