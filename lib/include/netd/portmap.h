/* portmap.h — published ports as values: one mapping (host port -> container
 * port, protocol, optional host address), netdctl's `-p` spec with ranges,
 * and when two mappings want the same host port.
 *
 *   struct netd_portmap *v = NULL; size_t n = 0;
 *   netd_portspec_parse("127.0.0.1:8000-8010:80-90/udp", &v, &n, &err); // 11 mappings
 *
 * No I/O: netdctl expands specs with it, netd validates and compares with it.
 */
#ifndef NETD_PORTMAP_H
#define NETD_PORTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/addr.h"
#include "netd/err.h"

struct netd_portmap {
	uint16_t host_port, container_port;	/* 1..65535 */
	uint8_t proto;				/* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	/* family 0: every address of the host, IPv4 and IPv6 (podman's "");
	 * 0.0.0.0 or ::: every address of that family only; else that one. */
	struct netd_addr host_ip;
};

/* "tcp", "udp", "sctp" <-> IPPROTO_*; parse: 0 or -EINVAL. */
int netd_proto_parse(const char *s, uint8_t *proto);
const char *netd_proto_name(uint8_t proto);

/* Expand one spec "[IP:]HOST[-HOST2]:CONTAINER[-CONTAINER2][/PROTO]" (IPv6
 * as "[::1]:8080:80"; PROTO tcp by default) and append its mappings to *v
 * (realloc'd; *n counts). Port 0 or above 65535, a reversed range, sides of
 * different length, an unknown protocol or a bad address: -EINVAL with a
 * message naming the spec, and *v, *n unchanged. */
int netd_portspec_parse(const char *spec, struct netd_portmap **v, size_t *n, struct netd_err *err);

/* Do a and b want the same host port of the same protocol on a common host
 * address? (An unspecified or wildcard host IP covers every address of its
 * families.) Whether that is a conflict depends on who holds them. */
bool netd_portmap_overlap(const struct netd_portmap *a, const struct netd_portmap *b);

/* Does the mapping apply to IPv4 (af AF_INET) or IPv6 traffic at all? */
bool netd_portmap_has_family(const struct netd_portmap *m, int af);

/* "0.0.0.0:8080->80/tcp" style text for messages; buf of NETD_PORTMAP_STRLEN. */
#define NETD_PORTMAP_STRLEN (NETD_ADDR_STRLEN + 32)
const char *netd_portmap_str(const struct netd_portmap *m, char *buf);

#endif
