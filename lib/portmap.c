/* portmap.c — published-port specs and overlap rules (portmap.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/portmap.h"

int netd_proto_parse(const char *s, uint8_t *proto)
{
	if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "sctp"))
		*proto = IPPROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

const char *netd_proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_SCTP ? "sctp" : "?";
}

/* "N" or "N-M" into lo..hi; 1..65535, lo <= hi. */
static int port_range(const char *s, size_t len, unsigned *lo, unsigned *hi)
{
	char buf[16], *end, *dash;
	unsigned long a, b;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	a = strtoul(buf, &end, 10);
	if (*end == '-') {
		dash = end + 1;
		if (*dash < '0' || *dash > '9')
			return -EINVAL;
		b = strtoul(dash, &end, 10);
	} else {
		b = a;
	}
	if (*end || a < 1 || a > 65535 || b < 1 || b > 65535 || b < a)
		return -EINVAL;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return 0;
}

int netd_portspec_parse(const char *spec, struct netd_portmap **v, size_t *n, struct netd_err *err)
{
	char ipbuf[NETD_ADDR_STRLEN + 1];
	const char *p = spec, *slash, *colon, *end;
	struct netd_portmap m = {.proto = IPPROTO_TCP}, *nv;
	unsigned hlo, hhi, clo, chi;

	/* protocol */
	slash = strchr(p, '/');
	if (slash && netd_proto_parse(slash + 1, &m.proto) < 0)
		return netd_err_set(err, -EINVAL, 7, "-p %s: unknown protocol '%s' (tcp, udp or sctp)", spec,
				    slash + 1);
	end = slash ? slash : p + strlen(p);
	/* host address: "[v6]:" or "a.b.c.d:" when two more colons follow */
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb || rb[1] != ':' || (size_t)(rb - p - 1) >= sizeof(ipbuf))
			return netd_err_set(err, -EINVAL, 7, "-p %s: expected [IPV6]:HOST:CONTAINER", spec);
		memcpy(ipbuf, p + 1, (size_t)(rb - p - 1));
		ipbuf[rb - p - 1] = 0;
		if (netd_addr_parse(ipbuf, &m.host_ip) < 0 || m.host_ip.family != AF_INET6)
			return netd_err_set(err, -EINVAL, 7, "-p %s: '%s' is not an IPv6 address", spec, ipbuf);
		p = rb + 2;
	} else {
		const char *c1 = memchr(p, ':', (size_t)(end - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;

		if (c2) {
			if ((size_t)(c1 - p) >= sizeof(ipbuf))
				return netd_err_set(err, -EINVAL, 7, "-p %s: bad host address", spec);
			memcpy(ipbuf, p, (size_t)(c1 - p));
			ipbuf[c1 - p] = 0;
			if (netd_addr_parse(ipbuf, &m.host_ip) < 0 || m.host_ip.family != AF_INET)
				return netd_err_set(err, -EINVAL, 7,
						    "-p %s: '%s' is not an IPv4 address (IPv6 goes in brackets)",
						    spec, ipbuf);
			p = c1 + 1;
		}
	}
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon)
		return netd_err_set(err, -EINVAL, 7, "-p %s: expected [IP:]HOST:CONTAINER[/PROTO]", spec);
	if (port_range(p, (size_t)(colon - p), &hlo, &hhi) < 0 ||
	    port_range(colon + 1, (size_t)(end - colon - 1), &clo, &chi) < 0)
		return netd_err_set(err, -EINVAL, 7, "-p %s: ports must be 1-65535, ranges as LOW-HIGH", spec);
	if (hhi - hlo != chi - clo)
		return netd_err_set(err, -EINVAL, 7,
				    "-p %s: the host range has %u ports, the container range %u: they must match",
				    spec, hhi - hlo + 1, chi - clo + 1);
	nv = realloc(*v, (*n + (hhi - hlo + 1)) * sizeof(**v));
	if (!nv)
		return netd_err_set(err, -ENOMEM, 999, "out of memory");
	*v = nv;
	for (unsigned i = 0; i <= hhi - hlo; i++) {
		m.host_port = (uint16_t)(hlo + i);
		m.container_port = (uint16_t)(clo + i);
		nv[(*n)++] = m;
	}
	return 0;
}

bool netd_portmap_has_family(const struct netd_portmap *m, int af)
{
	return !m->host_ip.family || m->host_ip.family == af;
}

bool netd_portmap_overlap(const struct netd_portmap *a, const struct netd_portmap *b)
{
	if (a->proto != b->proto || a->host_port != b->host_port)
		return false;
	if (!a->host_ip.family || !b->host_ip.family)
		return true;
	if (a->host_ip.family != b->host_ip.family)
		return false;
	return netd_addr_is_zero(&a->host_ip) || netd_addr_is_zero(&b->host_ip) ||
	       netd_addr_eq(&a->host_ip, &b->host_ip);
}

const char *netd_portmap_str(const struct netd_portmap *m, char *buf)
{
	char a[NETD_ADDR_STRLEN];
	const char *ip = m->host_ip.family ? netd_addr_str(&m->host_ip, a) : "*";
	bool v6 = m->host_ip.family == AF_INET6;

	snprintf(buf, NETD_PORTMAP_STRLEN, "%s%s%s:%u->%u/%s", v6 ? "[" : "", ip, v6 ? "]" : "", m->host_port,
		 m->container_port, netd_proto_name(m->proto));
	return buf;
}
