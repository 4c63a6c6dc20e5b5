#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "netd/addr.h"

int netd_addr_parse(const char *s, struct netd_addr *out)
{
	struct netd_addr a = {0};

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.v6) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*out = a;
	return 0;
}

int netd_prefix_parse(const char *s, struct netd_prefix *out)
{
	char buf[NETD_PREFIX_STRLEN + 1], *slash, *end;
	struct netd_prefix p = {0};
	long len;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (netd_addr_parse(buf, &p.addr) < 0)
		return -EINVAL;
	if (!slash[1] || slash[1] == '+' || slash[1] == '-' || slash[1] == ' ')
		return -EINVAL;
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (errno || *end || len < 0 || len > (long)netd_addr_bits(&p.addr))
		return -EINVAL;
	p.len = (uint8_t)len;
	*out = p;
	return 0;
}

const char *netd_addr_str(const struct netd_addr *a, char *buf)
{
	if (!a->family || !inet_ntop(a->family, a->b, buf, NETD_ADDR_STRLEN))
		strcpy(buf, "");
	return buf;
}

const char *netd_prefix_str(const struct netd_prefix *p, char *buf)
{
	char a[NETD_ADDR_STRLEN];

	snprintf(buf, NETD_PREFIX_STRLEN, "%s/%u", netd_addr_str(&p->addr, a), p->len);
	return buf;
}

bool netd_addr_eq(const struct netd_addr *a, const struct netd_addr *b)
{
	return a->family == b->family && !memcmp(a->b, b->b, netd_addr_len(a));
}

int netd_addr_cmp(const struct netd_addr *a, const struct netd_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, netd_addr_len(a));
}

bool netd_addr_is_zero(const struct netd_addr *a)
{
	static const uint8_t zero[16];

	return !a->family || !memcmp(a->b, zero, netd_addr_len(a));
}

static void mask_bits(struct netd_addr *a, unsigned len, bool set)
{
	unsigned bits = netd_addr_bits(a);

	for (unsigned i = len; i < bits; i++) {
		uint8_t bit = (uint8_t)(0x80u >> (i % 8));

		if (set)
			a->b[i / 8] |= bit;
		else
			a->b[i / 8] &= (uint8_t)~bit;
	}
}

struct netd_prefix netd_prefix_network(const struct netd_prefix *p)
{
	struct netd_prefix n = *p;

	mask_bits(&n.addr, n.len, false);
	return n;
}

struct netd_addr netd_prefix_first(const struct netd_prefix *p)
{
	return netd_prefix_network(p).addr;
}

struct netd_addr netd_prefix_last(const struct netd_prefix *p)
{
	struct netd_addr a = p->addr;

	mask_bits(&a, p->len, true);
	return a;
}

bool netd_prefix_contains(const struct netd_prefix *net, const struct netd_addr *a)
{
	struct netd_prefix x = {.addr = *a, .len = net->len};
	struct netd_prefix n = netd_prefix_network(net);

	if (a->family != net->addr.family)
		return false;
	x = netd_prefix_network(&x);
	return netd_addr_eq(&x.addr, &n.addr);
}

bool netd_prefix_overlaps(const struct netd_prefix *a, const struct netd_prefix *b)
{
	if (a->addr.family != b->addr.family)
		return false;
	return a->len <= b->len ? netd_prefix_contains(a, &b->addr) : netd_prefix_contains(b, &a->addr);
}

int netd_addr_add(const struct netd_addr *a, int64_t delta, struct netd_addr *out)
{
	struct netd_addr r = *a;
	int n = (int)netd_addr_len(a);
	bool neg = delta < 0;
	/* magnitude as unsigned 64 bits; -INT64_MIN is fine in unsigned arithmetic */
	uint64_t mag = neg ? (uint64_t)0 - (uint64_t)delta : (uint64_t)delta;
	unsigned carry = 0;

	if (!a->family)
		return -EINVAL;
	for (int i = n - 1; i >= 0; i--) {
		unsigned byte = (unsigned)(mag & 0xff);
		int v;

		mag >>= 8;
		if (neg) {
			v = (int)r.b[i] - (int)byte - (int)carry;
			carry = v < 0;
			if (v < 0)
				v += 256;
		} else {
			v = (int)r.b[i] + (int)byte + (int)carry;
			carry = v > 255;
			v &= 0xff;
		}
		r.b[i] = (uint8_t)v;
	}
	if (carry || mag)
		return -ERANGE;
	*out = r;
	return 0;
}

int netd_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 17; i++) {
		bool colon = i % 3 == 2;

		if (colon ? (s[i] != ':' && s[i] != '-') : !strchr("0123456789abcdefABCDEF", s[i]))
			return -EINVAL;
	}
	if (sscanf(s, "%2x%*c%2x%*c%2x%*c%2x%*c%2x%*c%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

const char *netd_mac_str(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void netd_mac_derive(const char *host_id, const char *name, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL;

	/* the NUL keeps ("ab","c") and ("a","bc") apart */
	h = fnv1a(h, host_id, strlen(host_id) + 1);
	h = fnv1a(h, name, strlen(name));
	/* FNV's low bytes change little with the last input bytes: mix */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (mac[0] & 0xfc) | 0x02;	/* unicast, locally administered */
}

void netd_mac_for_host(const char *name, uint8_t mac[6])
{
	char id[128] = "";
	FILE *f = fopen("/etc/machine-id", "re");

	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = 0;
		fclose(f);
		id[strcspn(id, "\n")] = 0;
	}
	if (id[0]) {
		netd_mac_derive(id, name, mac);
		return;
	}
	if (getrandom(mac, 6, 0) != 6)
		netd_mac_derive("", name, mac);
	mac[0] = (mac[0] & 0xfc) | 0x02;
}
