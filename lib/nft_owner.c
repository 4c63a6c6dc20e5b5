/* nft_owner.c — who owns what in the plugins' shared tables: owner tags and
 * GC's selection by network. Below the table modules (nft_masq.c,
 * nft_macspoof.c), which use it; nft.c's one-call DEL sits above them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netd/nft_log.h"
#include "netd/nft_owner.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--) {
		h ^= *c++;
		h *= FNV_PRIME;
	}
	return h;
}

/* fnv over "network\0container\0ifname" starting from seed. */
static uint64_t fnv_triple(uint64_t seed, const char *a, const char *b, const char *c)
{
	uint64_t h = seed;

	h = fnv1a(h, a, strlen(a) + 1);
	h = fnv1a(h, b, strlen(b) + 1);
	return fnv1a(h, c, strlen(c));
}

void netd_nft_owner(const char *network, const char *container_id, const char *ifname, char out[33])
{
	uint64_t n, h, h2;

	network = network ? network : "";
	container_id = container_id ? container_id : "";
	ifname = ifname ? ifname : "";
	n = fnv1a(FNV_OFFSET, network, strlen(network));
	h = fnv_triple(FNV_OFFSET, network, container_id, ifname);
	h2 = fnv_triple(h, network, container_id, ifname);
	snprintf(out, 33, "%08x%016llx%08x", (unsigned)(n >> 32), (unsigned long long)h,
		 (unsigned)(h2 >> 32));
}

bool netd_nft_owner_ok(const char *o)
{
	size_t i;

	if (!o || !o[0] || strlen(o) > 64)
		return false;
	for (i = 0; o[i]; i++) {
		char c = o[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The table's GC, then its note in netd's record: a GC that ran while its
 * table was gone must still keep netd from putting those elements back. */
static int gc_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	struct netd_nft_gc *g = arg;
	int rc = g->op(c, g, err);

	return rc < 0 ? rc : netd_nft_log_gc(c, g, err);
}

int netd_nft_gc(const char *network, const char *const *keep, size_t n, netd_nft_op op, const char *what,
		unsigned tables, struct netd_err *err)
{
	struct netd_nft_gc g = { .keep = keep, .n = n, .op = op, .tables = tables };
	char tag[33];
	int rc;

	if (!network || !network[0])
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: gc needs a network name");
	netd_nft_owner(network, "", "", tag);
	memcpy(g.prefix, tag, 8);
	rc = netd_nft_locked(gc_op, &g, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "%s gc of network %s", what, network);
	return rc;
}

bool netd_nft_gc_picks(const struct netd_nft_gc *g, const char *owner)
{
	size_t i;

	if (strlen(owner) != 32 || strncmp(owner, g->prefix, 8))
		return false;
	for (i = 0; i < g->n; i++)
		if (g->keep[i] && !strcmp(g->keep[i], owner))
			return false;
	return true;
}
