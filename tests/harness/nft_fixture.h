/* nft_fixture.h — the C tests' view of the plugins' nftables tables
 * (tests/unit/test_nft.c, bench/nft.c): owners, adds, DELs the ways the
 * plugin makes them, and what `nft` shows an operator. Include after
 * <cmocka.h> and unit.h.
 */
#ifndef NETD_TEST_NFT_FIXTURE_H
#define NETD_TEST_NFT_FIXTURE_H

#include <jansson.h>

#include "netd/nft.h"
#include "unit.h"
TEST_HELPER void drop_table(void)
{
	if (system("nft delete table inet netd_cni 2>/dev/null")) {
		/* absent already */
	}
	if (system("nft delete table bridge netd_cni 2>/dev/null")) {
		/* absent already */
	}
}

TEST_HELPER const char *owner(const char *net, const char *ctr)
{
	static char buf[8][33];
	static int i;
	char *o = buf[i++ % 8];

	netd_nft_owner(net, ctr, "eth0", o);
	return o;
}

/* Owner of addr in our listing, or NULL. Also returns its subnet length. */
TEST_HELPER const char *owner_of(const char *addr, int *plen)
{
	static char found[65];
	struct netd_nft_masq_entry *v;
	struct netd_err err = { 0 };
	struct netd_addr a = { 0 };
	size_t n, i;
	const char *res = NULL;

	a.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.family, addr, a.b), 1);
	assert_int_equal(netd_nft_masq_list(&v, &n, &err), 0);
	for (i = 0; i < n; i++) {
		if (v[i].addr.addr.family == a.family && !memcmp(v[i].addr.addr.b, a.b, a.family == AF_INET ? 4 : 16)) {
			assert_null(res);	/* one element per address */
			snprintf(found, sizeof(found), "%s", v[i].owner);
			if (plen)
				*plen = v[i].addr.len;
			res = found;
		}
	}
	free(v);
	return res;
}

TEST_HELPER size_t list_count(void)
{
	struct netd_nft_masq_entry *v;
	struct netd_err err = { 0 };
	size_t n;

	assert_int_equal(netd_nft_masq_list(&v, &n, &err), 0);
	free(v);
	return n;
}

/* `nft -j list table inet netd_cni`, parsed. */
TEST_HELPER json_t *nft_json(void)
{
	FILE *p = popen("nft -j list table inet netd_cni 2>/dev/null", "r");
	json_error_t je;
	json_t *j;

	assert_non_null(p);
	j = json_loadf(p, 0, &je);
	pclose(p);
	return j;
}

struct nft_counts {
	int rules;
	int elems[4];	/* masq4, masq4_local, masq6, masq6_local */
};

TEST_HELPER struct nft_counts nft_counts(void)
{
	static const char *names[4] = { "masq4", "masq4_local", "masq6", "masq6_local" };
	struct nft_counts c = { 0 };
	json_t *j = nft_json(), *arr, *it, *o;
	size_t i;
	int k;

	assert_non_null(j);
	arr = json_object_get(j, "nftables");
	json_array_foreach(arr, i, it) {
		if (json_object_get(it, "rule"))
			c.rules++;
		if ((o = json_object_get(it, "set"))) {
			const char *name = json_string_value(json_object_get(o, "name"));

			for (k = 0; k < 4; k++)
				if (name && !strcmp(name, names[k]))
					c.elems[k] = (int)json_array_size(json_object_get(o, "elem"));
		}
	}
	json_decref(j);
	return c;
}

/* `nft list table FAMILY netd_cni` as an operator sees it (static buffer). */
TEST_HELPER char *nft_list(const char *family)
{
	static char buf[65536];
	char cmd[128];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "nft list table %s netd_cni 2>&1", family);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	pclose(p);
	return buf;
}

TEST_HELPER char *nft_text(void)
{
	return nft_list("inet");
}

TEST_HELPER int add(const char *pfx, const char *o)
{
	struct netd_prefix p = P(pfx);
	struct netd_err err = { 0 };
	int rc = netd_nft_masq_add(&p, o, &err);

	if (rc < 0)
		print_error("masq_add %s: %s\n", pfx, err.msg);
	return rc;
}

/* DEL through the one entry point, the ways the plugin calls it. */
TEST_HELPER int del_masq(const char *o, struct netd_err *err)
{
	struct netd_nft_del_req q = { .owner = o, .masq = true };

	return netd_nft_del(&q, err);
}

TEST_HELPER int del_masq_addr(const struct netd_addr *a, const char *o, struct netd_err *err)
{
	struct netd_nft_del_req q = { .owner = o, .masq = true, .addrs = a, .naddrs = 1 };

	return netd_nft_del(&q, err);
}

TEST_HELPER int del_msp(const char *o, struct netd_err *err)
{
	struct netd_nft_del_req q = { .owner = o, .macspoof = true };

	return netd_nft_del(&q, err);
}

TEST_HELPER int del_msp_if(const char *ifn, const char *o, struct netd_err *err)
{
	struct netd_nft_del_req q = { .owner = o, .macspoof = true, .host_ifname = ifn };

	return netd_nft_del(&q, err);
}

struct msp_counts {
	int rules, ifaces, allow;
};

TEST_HELPER struct msp_counts msp_counts(void)
{
	FILE *p = popen("nft -j list table bridge netd_cni 2>/dev/null", "r");
	struct msp_counts c = { 0 };
	json_error_t je;
	json_t *j, *it, *o;
	size_t i;

	assert_non_null(p);
	j = json_loadf(p, 0, &je);
	pclose(p);
	if (!j)
		return c;	/* no table */
	json_array_foreach(json_object_get(j, "nftables"), i, it) {
		if (json_object_get(it, "rule"))
			c.rules++;
		if ((o = json_object_get(it, "set"))) {
			const char *name = json_string_value(json_object_get(o, "name"));
			int n = (int)json_array_size(json_object_get(o, "elem"));

			if (name && !strcmp(name, "macspoof_ifaces"))
				c.ifaces = n;
			if (name && !strcmp(name, "macspoof_allow"))
				c.allow = n;
		}
	}
	json_decref(j);
	return c;
}

TEST_HELPER char *msp_text(void)
{
	return nft_list("bridge");
}

static const uint8_t __attribute__((unused)) MAC1[6] = { 0x02, 0, 0, 0, 0x01, 0x01 }, MAC2[6] = { 0x02, 0, 0, 0, 0x01, 0x02 },
		     MAC3[6] = { 0x02, 0, 0, 0, 0x01, 0x99 };

TEST_HELPER int msp_add(const char *ifn, const uint8_t *mac, const char *o)
{
	struct netd_err err = { 0 };
	int rc = netd_nft_macspoof_add(ifn, mac, o, &err);

	if (rc < 0)
		print_error("macspoof_add %s: %s\n", ifn, err.msg);
	return rc;
}

TEST_HELPER int msp_has(const char *ifn, const uint8_t *mac, const char *o)
{
	struct netd_err err = { 0 };

	return netd_nft_macspoof_has(ifn, mac, o, &err);
}

#endif
