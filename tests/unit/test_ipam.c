/* test_ipam.c — the allocator (lib/ipam_conf.c, ipam_order.c, ipam_store.c,
 * ipam.c): config parsing (every error), allocation order, the on-disk store
 * in a temp dir (host-local's layout), release, CHECK, GC, STATUS, the index.
 *
 * One file of ~900 lines on purpose: the cases drive the allocator the way
 * netd-ipam does (a config, then operations on its store), through one set
 * of config and temp-dir helpers; split, each part would carry a copy. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netd/ipam.h"
#include "netd/resolv.h"

static char tmpdir[64];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/test_ipam.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Parse `ipam` (JSON text of the ipam object, dataDir forced into tmpdir). */
static struct netd_ipam_conf *conf_ipam(const char *ipam_json, struct netd_err *err)
{
	json_error_t je;
	json_t *ipam = json_loads(ipam_json, 0, &je), *net;
	struct netd_ipam_conf *c = NULL;

	assert_non_null(ipam);
	if (!json_object_get(ipam, "dataDir"))
		json_object_set_new(ipam, "dataDir", json_string(tmpdir));
	net = json_pack("{s:s, s:s, s:o}", "cniVersion", "1.1.0", "name", "net1", "ipam", ipam);
	netd_ipam_conf_parse(net, &c, err);
	json_decref(net);
	return c;
}

static struct netd_ipam_conf *conf_ok(const char *ipam_json)
{
	struct netd_err err = {0};
	struct netd_ipam_conf *c = conf_ipam(ipam_json, &err);

	if (!c)
		fail_msg("config %s: %s", ipam_json, err.msg);
	return c;
}

static void expect_conf_err(const char *ipam_json, const char *needle)
{
	struct netd_err err = {0};
	struct netd_ipam_conf *c = conf_ipam(ipam_json, &err);

	if (c)
		fail_msg("config %s was accepted", ipam_json);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	if (!strstr(err.msg, needle))
		fail_msg("config %s: message '%s' lacks '%s'", ipam_json, err.msg, needle);
}

static const char *astr(const struct netd_addr *a)
{
	static char buf[4][NETD_ADDR_STRLEN];
	static int i;

	return netd_addr_str(a, buf[i++ % 4]);
}

static struct netd_addr A(const char *s)
{
	struct netd_addr a;

	assert_int_equal(netd_addr_parse(s, &a), 0);
	return a;
}

/* ---- config ---- */

static void test_conf_legacy_defaults(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"type\":\"netd-ipam\",\"subnet\":\"10.1.0.0/24\"}");
	const struct netd_ipam_range *r;

	assert_string_equal(c->network, "net1");
	assert_string_equal(c->data_dir, tmpdir);
	assert_int_equal(c->n_sets, 1);
	assert_int_equal(c->sets[0].n_ranges, 1);
	r = &c->sets[0].ranges[0];
	assert_string_equal(astr(&r->start), "10.1.0.1");
	assert_string_equal(astr(&r->end), "10.1.0.254");
	assert_string_equal(astr(&r->gateway), "10.1.0.1");
	assert_int_equal(r->subnet.len, 24);
	assert_null(c->resolv_conf);
	netd_ipam_conf_free(c);
}

static void test_conf_default_datadir(void **state)
{
	json_t *net = json_loads("{\"name\":\"n\",\"ipam\":{\"subnet\":\"10.1.0.0/24\"}}", 0, NULL);
	struct netd_ipam_conf *c;

	assert_int_equal(netd_ipam_conf_parse(net, &c, NULL), 0);
	assert_string_equal(c->data_dir, "/var/lib/cni/networks");
	netd_ipam_conf_free(c);
	json_decref(net);
}

static void test_conf_ranges_full(void **state)
{
	struct netd_ipam_conf *c = conf_ok(
		"{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\",\"rangeStart\":\"10.1.0.10\",\"rangeEnd\":\"10.1.0.20\","
		"\"gateway\":\"10.1.0.254\"},{\"subnet\":\"10.2.0.0/24\"}],[{\"subnet\":\"fd00::/64\"}]],"
		"\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"192.168.0.0/16\",\"gw\":\"10.1.0.254\"}],"
		"\"exclude\":[\"10.2.0.5\",\"10.2.0.64/26\"],\"resolvConf\":\"/etc/resolv.conf\"}");

	assert_int_equal(c->n_sets, 2);
	assert_int_equal(c->sets[0].n_ranges, 2);
	assert_string_equal(astr(&c->sets[0].ranges[0].start), "10.1.0.10");
	assert_string_equal(astr(&c->sets[0].ranges[0].end), "10.1.0.20");
	assert_string_equal(astr(&c->sets[0].ranges[0].gateway), "10.1.0.254");
	assert_string_equal(astr(&c->sets[1].ranges[0].start), "fd00::1");
	/* IPv6 has no broadcast: the range runs to the last address */
	assert_string_equal(astr(&c->sets[1].ranges[0].end), "fd00::ffff:ffff:ffff:ffff");
	assert_int_equal(c->n_routes, 2);
	assert_int_equal(c->routes[0].gw.family, 0);
	assert_string_equal(astr(&c->routes[1].gw), "10.1.0.254");
	assert_int_equal(c->n_exclude, 2);
	assert_int_equal(c->exclude[0].len, 32);
	assert_string_equal(c->resolv_conf, "/etc/resolv.conf");
	netd_ipam_conf_free(c);
}

static void test_conf_legacy_prepended(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.9.0.0/24\",\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"}]]}");

	assert_int_equal(c->n_sets, 2);
	assert_string_equal(astr(&c->sets[0].ranges[0].subnet.addr), "10.9.0.0");
	assert_string_equal(astr(&c->sets[1].ranges[0].subnet.addr), "10.1.0.0");
	netd_ipam_conf_free(c);
}

static void test_conf_errors(void **state)
{
	struct netd_err err = {0};
	struct netd_ipam_conf *c;
	json_t *j;

	expect_conf_err("{}", "ipam.ranges: missing");
	expect_conf_err("{\"ranges\":[]}", "ipam.ranges: missing");
	expect_conf_err("{\"ranges\":{}}", "ipam.ranges: must be a list");
	expect_conf_err("{\"ranges\":[{}]}", "ipam.ranges[0]: must be a list");
	expect_conf_err("{\"ranges\":[[]]}", "ipam.ranges[0]: empty range set");
	expect_conf_err("{\"ranges\":[[{}]]}", "ipam.ranges[0][0].subnet: missing");
	expect_conf_err("{\"ranges\":[[{\"subnet\":5}]]}", "ipam.ranges[0][0].subnet: must be a string");
	expect_conf_err("{\"subnet\":\"bad\"}", "ipam.subnet: 'bad' is not a CIDR subnet");
	expect_conf_err("{\"subnet\":\"10.1.0.0\"}", "ipam.subnet: '10.1.0.0' is not a CIDR subnet");
	expect_conf_err("{\"subnet\":\"10.1.0.1/24\"}", "ipam.subnet: 10.1.0.1/24 has host bits set (the network is 10.1.0.0/24)");
	expect_conf_err("{\"subnet\":\"10.1.0.0/31\"}", "ipam.subnet: 10.1.0.0/31 is too small");
	expect_conf_err("{\"subnet\":\"fd00::/127\"}", "too small");
	expect_conf_err("{\"rangeStart\":\"10.1.0.5\"}", "ipam.subnet: missing");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"rangeStart\":\"10.2.0.1\"}",
			"ipam.rangeStart: 10.2.0.1 is outside subnet 10.1.0.0/24");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"rangeStart\":\"x\"}", "ipam.rangeStart: 'x' is not an IP");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"rangeEnd\":\"10.1.1.0\"}",
			"ipam.rangeEnd: 10.1.1.0 is outside subnet");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"rangeStart\":\"10.1.0.9\",\"rangeEnd\":\"10.1.0.8\"}",
			"ipam.rangeStart: 10.1.0.9 is after rangeEnd");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"gateway\":\"fd00::1\"}", "ipam.gateway: fd00::1 is not in the subnet's");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"gateway\":\"nope\"}", "ipam.gateway: 'nope' is not an IP");
	expect_conf_err("{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"},{\"subnet\":\"10.1.0.0/25\"}]]}",
			"ipam.ranges[0]: ranges 10.1.0.0/24 and 10.1.0.0/25 overlap");
	expect_conf_err("{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"}],[{\"subnet\":\"10.1.0.128/25\"}]]}",
			"range set 0 (10.1.0.0/24) overlaps range set 1 (10.1.0.128/25)");
	expect_conf_err("{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"},{\"subnet\":\"fd00::/64\"}]]}",
			"ipam.ranges[0]: mixed address families");
	expect_conf_err("{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"}],[{\"subnet\":\"10.2.0.0/24\",\"rangeStart\":\"10.3.0.1\"}]]}",
			"ipam.ranges[1][0].rangeStart: 10.3.0.1 is outside subnet 10.2.0.0/24");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"routes\":{}}", "ipam.routes: must be a list");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"routes\":[{}]}", "ipam.routes[0].dst: missing");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"routes\":[{\"dst\":\"1.2.3.4\"}]}",
			"ipam.routes[0].dst: '1.2.3.4' is not a CIDR");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"zz\"}]}",
			"ipam.routes[0].gw: 'zz' is not an IP");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"exclude\":[\"10.1.0.0/33\"]}",
			"ipam.exclude[0]: '10.1.0.0/33' is not an IP or CIDR");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"exclude\":[1]}", "ipam.exclude[0]: must be a string");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"dataDir\":\"\"}", "ipam.dataDir: must not be empty");
	expect_conf_err("{\"subnet\":\"10.1.0.0/24\",\"dataDir\":7}", "ipam.dataDir: must be a string");

	/* missing ipam / name, a name that is not one path component */
	j = json_loads("{\"name\":\"n\"}", 0, NULL);
	assert_int_equal(netd_ipam_conf_parse(j, &c, &err), -EINVAL);
	assert_int_equal(err.code, 7);
	assert_string_equal(err.msg, "ipam: missing");
	json_decref(j);
	memset(&err, 0, sizeof(err));
	j = json_loads("{\"ipam\":{\"subnet\":\"10.1.0.0/24\"}}", 0, NULL);
	assert_int_equal(netd_ipam_conf_parse(j, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "name: missing"));
	json_decref(j);
	memset(&err, 0, sizeof(err));
	j = json_loads("{\"name\":\"../etc\",\"ipam\":{\"subnet\":\"10.1.0.0/24\"}}", 0, NULL);
	assert_int_equal(netd_ipam_conf_parse(j, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not a valid network name"));
	json_decref(j);
}

static void test_conf_requests(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	json_t *rc = json_loads("{\"ips\":[\"10.1.0.7/24\",\"10.1.0.8\"]}", 0, NULL);
	json_t *args = json_loads("{\"cni\":{\"ips\":[\"10.1.0.9\"]}}", 0, NULL);
	json_t *bad = json_loads("{\"ips\":[\"10.1.0.300\"]}", 0, NULL);
	struct netd_err err = {0};

	assert_int_equal(netd_ipam_conf_requests(c, rc, args, " 10.1.0.5 ,10.1.0.6,10.1.0.7", &err), 0);
	assert_int_equal(c->n_requested, 5);	/* 10.1.0.7 twice is one request */
	assert_string_equal(astr(&c->requested[0]), "10.1.0.5");
	assert_string_equal(astr(&c->requested[3]), "10.1.0.9");
	assert_string_equal(astr(&c->requested[4]), "10.1.0.8");
	assert_int_equal(netd_ipam_conf_requests(c, bad, NULL, NULL, &err), -EINVAL);
	assert_int_equal(err.code, 7);
	assert_string_equal(err.msg, "runtimeConfig.ips[0]: '10.1.0.300' is not an IP address");
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_ipam_conf_requests(c, NULL, NULL, "10.1.0.1,bogus", &err), -EINVAL);
	assert_string_equal(err.msg, "CNI_ARGS IP: 'bogus' is not an IP address");
	json_decref(rc);
	json_decref(args);
	json_decref(bad);
	netd_ipam_conf_free(c);
}

/* ---- allocation order (pure) ---- */

static void walk(const struct netd_ipam_conf *c, size_t set, const char *from, int n, const char *expect)
{
	char got[1024] = "";
	struct netd_addr cur, f;
	const struct netd_addr *cursor = NULL;

	if (from) {
		f = A(from);
		cursor = &f;
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(netd_ipam_next(c, set, cursor, &cur), 0);
		if (i)
			strcat(got, " ");
		strcat(got, astr(&cur));
		f = cur;
		cursor = &f;
	}
	assert_string_equal(got, expect);
}

static void test_order(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/29\"}");

	/* .0 network, .1 gateway, .7 broadcast never come out */
	walk(c, 0, NULL, 7, "10.1.0.2 10.1.0.3 10.1.0.4 10.1.0.5 10.1.0.6 10.1.0.2 10.1.0.3");
	walk(c, 0, "10.1.0.4", 3, "10.1.0.5 10.1.0.6 10.1.0.2");
	walk(c, 0, "10.9.9.9", 1, "10.1.0.2");
	netd_ipam_conf_free(c);

	/* gateway elsewhere: .1 is handed out; rangeStart/End bound the walk; an
	 * explicit rangeStart at the network address still skips it */
	c = conf_ok("{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\",\"gateway\":\"10.1.0.3\",\"rangeStart\":\"10.1.0.0\","
		    "\"rangeEnd\":\"10.1.0.4\"},{\"subnet\":\"10.2.0.0/24\",\"rangeStart\":\"10.2.0.250\","
		    "\"rangeEnd\":\"10.2.0.255\"}]]}");
	walk(c, 0, NULL, 8, "10.1.0.1 10.1.0.2 10.1.0.4 10.2.0.250 10.2.0.251 10.2.0.252 10.2.0.253 10.2.0.254");
	walk(c, 0, "10.2.0.254", 2, "10.1.0.1 10.1.0.2");
	netd_ipam_conf_free(c);

	/* exclude: single IPs and whole prefixes, including one that covers the end */
	c = conf_ok("{\"subnet\":\"10.1.0.0/24\",\"rangeEnd\":\"10.1.0.40\",\"exclude\":[\"10.1.0.3\","
		    "\"10.1.0.8/29\",\"10.1.0.32/27\",\"10.9.0.0/16\"]}");
	walk(c, 0, NULL, 8, "10.1.0.2 10.1.0.4 10.1.0.5 10.1.0.6 10.1.0.7 10.1.0.16 10.1.0.17 10.1.0.18");
	walk(c, 0, "10.1.0.31", 1, "10.1.0.2");
	netd_ipam_conf_free(c);

	/* IPv6 */
	c = conf_ok("{\"subnet\":\"fd00::/126\"}");
	walk(c, 0, NULL, 3, "fd00::2 fd00::3 fd00::2");
	netd_ipam_conf_free(c);
}

static void test_order_nothing_usable(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\",\"rangeStart\":\"10.1.0.1\","
					   "\"rangeEnd\":\"10.1.0.2\",\"exclude\":[\"10.1.0.2\"]}");
	struct netd_addr a;

	assert_int_equal(netd_ipam_next(c, 0, NULL, &a), -ENOSPC);
	netd_ipam_conf_free(c);
}

static void test_usable(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\",\"rangeEnd\":\"10.1.0.255\",\"exclude\":[\"10.1.0.9\"]}");
	const struct netd_ipam_range *r = &c->sets[0].ranges[0];
	struct netd_addr a;

	a = A("10.1.0.0");
	assert_false(netd_ipam_usable(c, r, &a));
	a = A("10.1.0.1");
	assert_false(netd_ipam_usable(c, r, &a));
	a = A("10.1.0.255");
	assert_false(netd_ipam_usable(c, r, &a));
	a = A("10.1.0.9");
	assert_false(netd_ipam_usable(c, r, &a));
	a = A("10.1.0.10");
	assert_true(netd_ipam_usable(c, r, &a));
	a = A("10.1.1.10");
	assert_false(netd_ipam_usable(c, r, &a));
	assert_int_equal(netd_ipam_find_set(c, &a), -1);
	netd_ipam_conf_free(c);
}

/* ---- store + operations ---- */

static char *slurp(const char *name)
{
	static char buf[256];
	char path[256];
	int fd, n;

	snprintf(path, sizeof(path), "%s/net1/%s", tmpdir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void put(const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/net1/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(body, f);
	fclose(f);
}

static int alloc1(struct netd_ipam_conf *c, const char *id, const char *ifname, struct cni_ip *ips,
		  struct netd_err *err)
{
	struct netd_ipam_store *s;
	int rc;

	assert_int_equal(netd_ipam_store_open(c->data_dir, c->network, &s, err), 0);
	rc = netd_ipam_allocate(c, s, id, ifname, ips, err);
	netd_ipam_store_close(s);
	return rc;
}

static const char *alloc_str(struct netd_ipam_conf *c, const char *id, const char *ifname)
{
	static char buf[NETD_PREFIX_STRLEN];
	struct netd_err err = {0};
	struct cni_ip ip[4];

	if (alloc1(c, id, ifname, ip, &err) < 0)
		fail_msg("allocate %s/%s: %s", id, ifname, err.msg);
	return netd_prefix_str(&ip[0].address, buf);
}

static int release1(struct netd_ipam_conf *c, const char *id, const char *ifname)
{
	struct netd_ipam_store *s;
	int rc;

	assert_int_equal(netd_ipam_store_open(c->data_dir, c->network, &s, NULL), 0);
	rc = netd_ipam_release(s, id, ifname, NULL);
	netd_ipam_store_close(s);
	return rc;
}

static void test_store_format(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	struct netd_err err = {0};
	struct cni_ip ip;
	struct stat st;
	char path[256];

	assert_int_equal(alloc1(c, "ctr1", "eth0", &ip, &err), 1);
	assert_string_equal(astr(&ip.address.addr), "10.1.0.2");
	assert_int_equal(ip.address.len, 24);
	assert_string_equal(astr(&ip.gateway), "10.1.0.1");
	assert_string_equal(slurp("10.1.0.2"), "ctr1\r\neth0");
	assert_string_equal(slurp("last_reserved_ip.0"), "10.1.0.2");
	snprintf(path, sizeof(path), "%s/net1/lock", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_string_equal(alloc_str(c, "ctr2", "eth0"), "10.1.0.3/24");
	assert_string_equal(slurp("last_reserved_ip.0"), "10.1.0.3");
	netd_ipam_conf_free(c);
}

static void test_round_robin_and_exhaustion(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/29\"}");
	struct netd_err err = {0};
	struct cni_ip ip;
	char id[16];

	for (int i = 2; i <= 6; i++) {
		char want[32];

		snprintf(id, sizeof(id), "c%d", i);
		snprintf(want, sizeof(want), "10.1.0.%d/29", i);
		assert_string_equal(alloc_str(c, id, "eth0"), want);
	}
	assert_int_equal(alloc1(c, "c7", "eth0", &ip, &err), -ENOSPC);
	assert_int_equal(err.code, NETD_ERR_IPAM_FULL);
	assert_string_equal(err.msg, "no IP addresses available in range set 10.1.0.0/29");
	assert_null(slurp("10.1.0.7"));
	/* free .3: the next ADD continues after the last one (.6), wraps, finds .3 */
	assert_int_equal(release1(c, "c3", "eth0"), 1);
	assert_string_equal(alloc_str(c, "c8", "eth0"), "10.1.0.3/29");
	/* free .5 and .2: continues after .3 -> .5, not back to .2 */
	assert_int_equal(release1(c, "c5", "eth0"), 1);
	assert_int_equal(release1(c, "c2", "eth0"), 1);
	assert_string_equal(alloc_str(c, "c9", "eth0"), "10.1.0.5/29");
	netd_ipam_conf_free(c);
}

static void test_last_reserved_garbage(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	put("last_reserved_ip.0", "garbage");
	assert_string_equal(alloc_str(c, "b", "eth0"), "10.1.0.3/24");
	put("last_reserved_ip.0", "10.77.0.1");	/* outside: start over */
	assert_string_equal(alloc_str(c, "c", "eth0"), "10.1.0.4/24");
	netd_ipam_conf_free(c);
}

static void test_idempotent_add(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	struct netd_err err = {0};
	struct cni_ip ip;

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_string_equal(alloc_str(c, "a", "eth1"), "10.1.0.3/24");
	/* the same attachment asking for a different static IP is refused */
	assert_int_equal(netd_ipam_conf_request(c, "10.1.0.50", "test", NULL), 0);
	assert_int_equal(alloc1(c, "a", "eth0", &ip, &err), -EEXIST);
	assert_int_equal(err.code, NETD_ERR_IN_USE);
	assert_string_equal(err.msg, "container a ifname eth0 already has IP 10.1.0.2 in range set 0; "
		       "cannot also take requested IP 10.1.0.50");
	assert_null(slurp("10.1.0.50"));
	netd_ipam_conf_free(c);
}

static void test_requested(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"}],[{\"subnet\":\"fd00::/64\"}]],"
					   "\"exclude\":[\"10.1.0.100\"]}");
	struct netd_err err = {0};
	struct cni_ip ip[2];
	struct { const char *ip; int rc, code; const char *msg; } bad[] = {
		{"10.2.0.5", -EINVAL, 7, "requested IP 10.2.0.5 is outside every range of network net1"},
		{"10.1.0.1", -EINVAL, 7, "requested IP 10.1.0.1 is the gateway of 10.1.0.0/24"},
		{"10.1.0.255", -EINVAL, 7, "requested IP 10.1.0.255 is outside every range"},
		{"10.1.0.100", -EINVAL, 7, "requested IP 10.1.0.100 is excluded (ipam.exclude 10.1.0.100/32)"},
		{"10.1.0.7", -EEXIST, NETD_ERR_IN_USE, "requested IP 10.1.0.7 is already in use by container x ifname eth0"},
	};

	assert_int_equal(netd_ipam_conf_request(c, "10.1.0.7/24", "t", NULL), 0);
	assert_int_equal(netd_ipam_conf_request(c, "fd00::7", "t", NULL), 0);
	assert_int_equal(alloc1(c, "x", "eth0", ip, &err), 2);
	assert_string_equal(astr(&ip[0].address.addr), "10.1.0.7");
	assert_string_equal(astr(&ip[1].address.addr), "fd00::7");
	assert_int_equal(ip[1].address.len, 64);
	assert_string_equal(slurp("last_reserved_ip.1"), "fd00::7");
	assert_string_equal(slurp("fd00::7"), "x\r\neth0");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		c->n_requested = 0;
		assert_int_equal(netd_ipam_conf_request(c, bad[i].ip, "t", NULL), 0);
		assert_int_equal(alloc1(c, "y", "eth0", ip, &err), bad[i].rc);
		assert_int_equal(err.code, bad[i].code);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("%s: got '%s'", bad[i].ip, err.msg);
	}
	/* a failed ADD leaves nothing behind: y holds no address in set 1 either */
	assert_int_equal(release1(c, "y", "eth0"), 0);

	/* two requests in one range set */
	memset(&err, 0, sizeof(err));
	c->n_requested = 0;
	assert_int_equal(netd_ipam_conf_request(c, "10.1.0.20", "t", NULL), 0);
	assert_int_equal(netd_ipam_conf_request(c, "10.1.0.21", "t", NULL), 0);
	assert_int_equal(alloc1(c, "z", "eth0", ip, &err), -EINVAL);
	assert_string_equal(err.msg, "requested IPs 10.1.0.20 and 10.1.0.21 are both in range set 0: "
		       "one address per range set");
	netd_ipam_conf_free(c);
}

static void test_rollback_on_full_second_set(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"}],"
					   "[{\"subnet\":\"10.2.0.0/30\"}]]}");
	struct netd_err err = {0};
	struct cni_ip ip[2];

	assert_int_equal(alloc1(c, "a", "eth0", ip, &err), 2);
	assert_string_equal(astr(&ip[1].address.addr), "10.2.0.2");
	assert_int_equal(alloc1(c, "b", "eth0", ip, &err), -ENOSPC);
	assert_string_equal(err.msg, "no IP addresses available in range set 10.2.0.0/30");
	/* b's address from set 0 was given back */
	assert_null(slurp("10.1.0.3"));
	netd_ipam_conf_free(c);
}

static void test_release_formats(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	struct netd_ipam_store *s;

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_string_equal(alloc_str(c, "a", "eth1"), "10.1.0.3/24");
	put("10.1.0.50", "a");		/* old host-local: id only */
	put("10.1.0.51", "  b\n");	/* old, with whitespace */
	assert_int_equal(release1(c, "a", "eth0"), 1);
	assert_null(slurp("10.1.0.2"));
	assert_non_null(slurp("10.1.0.3"));
	assert_non_null(slurp("10.1.0.50"));	/* an exact match existed: old file stays */
	assert_int_equal(release1(c, "a", "eth0"), 1);	/* now only the old one matches */
	assert_null(slurp("10.1.0.50"));
	assert_int_equal(release1(c, "a", "eth0"), 0);	/* nothing: still success */
	assert_int_equal(release1(c, "b", "eth9"), 1);
	assert_int_equal(release1(c, "nobody", "eth0"), 0);
	assert_non_null(slurp("10.1.0.3"));
	assert_non_null(slurp("lock"));

	/* DEL with no directory at all is fine too */
	assert_int_equal(netd_ipam_store_open(tmpdir, "othernet", &s, NULL), 0);
	assert_int_equal(netd_ipam_release(s, "a", "eth0", NULL), 0);
	netd_ipam_store_close(s);
	netd_ipam_conf_free(c);
}

static void test_check(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	struct netd_ipam_store *s;
	struct netd_err err = {0};
	struct netd_addr addrs[2] = {A("10.1.0.2"), A("192.168.9.9")};

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_string_equal(alloc_str(c, "b", "eth0"), "10.1.0.3/24");
	assert_int_equal(netd_ipam_store_open(c->data_dir, c->network, &s, NULL), 0);
	/* an address from another IPAM (192.168.9.9) is not ours to judge */
	assert_int_equal(netd_ipam_check(c, s, "a", "eth0", addrs, 2, &err), 0);
	assert_int_equal(netd_ipam_check(c, s, "a", "eth0", NULL, 0, &err), 0);
	assert_int_equal(netd_ipam_check(c, s, "b", "eth0", addrs, 1, &err), -EEXIST);
	assert_int_equal(err.code, NETD_ERR_DRIFT);
	assert_string_equal(err.msg, "10.1.0.2 is reserved for another container, not b ifname eth0");
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_ipam_check(c, s, "a", "eth1", NULL, 0, &err), -ENOENT);
	assert_string_equal(err.msg, "no address is reserved for container a ifname eth1 in network net1");
	memset(&err, 0, sizeof(err));
	addrs[0] = A("10.1.0.9");
	assert_int_equal(netd_ipam_check(c, s, "a", "eth0", addrs, 1, &err), -ENOENT);
	assert_string_equal(err.msg, "10.1.0.9 is not reserved in network net1");
	netd_ipam_store_close(s);
	netd_ipam_conf_free(c);
}

static void test_gc(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	struct netd_ipam_attachment valid[] = {{"a", "eth0"}, {"old", "eth5"}};
	struct netd_ipam_lease l = {.id = "a", .ifname = "eth1"};
	struct netd_ipam_store *s;
	struct netd_err err = {0};

	/* selection */
	assert_false(netd_ipam_gc_keep(&l, valid, 2));
	l.ifname = "eth0";
	assert_true(netd_ipam_gc_keep(&l, valid, 2));
	assert_false(netd_ipam_gc_keep(&l, valid, 0));
	l.id = "old";
	l.ifname = NULL;	/* id-only file matches on id */
	assert_true(netd_ipam_gc_keep(&l, valid, 2));

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_string_equal(alloc_str(c, "a", "eth1"), "10.1.0.3/24");
	assert_string_equal(alloc_str(c, "b", "eth0"), "10.1.0.4/24");
	put("10.1.0.60", "old");
	put("10.1.0.61", "gone");
	put("10.1.0.62", "");
	assert_int_equal(netd_ipam_store_open(c->data_dir, c->network, &s, NULL), 0);
	assert_int_equal(netd_ipam_gc(s, valid, 2, &err), 4);
	assert_non_null(slurp("10.1.0.2"));
	assert_non_null(slurp("10.1.0.60"));
	assert_null(slurp("10.1.0.3"));
	assert_null(slurp("10.1.0.4"));
	assert_null(slurp("10.1.0.61"));
	assert_null(slurp("10.1.0.62"));
	/* an empty list releases everything but lock and last_reserved_ip */
	assert_int_equal(netd_ipam_gc(s, NULL, 0, &err), 2);
	netd_ipam_store_close(s);
	assert_non_null(slurp("lock"));
	assert_non_null(slurp("last_reserved_ip.0"));
	netd_ipam_conf_free(c);
}

static void test_status(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/30\"}");
	struct netd_err err = {0};

	assert_int_equal(netd_ipam_status(c, &err), 0);	/* no directory yet: fine */
	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/30");
	assert_int_equal(netd_ipam_status(c, &err), -ENOSPC);
	assert_int_equal(err.code, 50);
	assert_string_equal(err.msg, "no IP addresses available in range set 10.1.0.0/30");
	release1(c, "a", "eth0");
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_ipam_status(c, &err), 0);
	netd_ipam_conf_free(c);

	/* a data dir under a file cannot be created */
	put("afile", "x");
	{
		char bad[300];

		snprintf(bad, sizeof(bad), "{\"subnet\":\"10.1.0.0/30\",\"dataDir\":\"%s/net1/afile/d\"}", tmpdir);
		c = conf_ok(bad);
		memset(&err, 0, sizeof(err));
		assert_true(netd_ipam_status(c, &err) < 0);
		assert_int_equal(err.code, 50);
		assert_non_null(strstr(err.msg, "is not writable"));
		netd_ipam_conf_free(c);
	}
}

static void test_result_and_resolv(void **state)
{
	char path[300], ipam[400];
	struct netd_ipam_conf *c;
	struct cni_result *r = cni_result_new();
	struct netd_err err = {0};
	struct cni_ip ip;
	FILE *f;

	snprintf(path, sizeof(path), "%s/resolv.conf", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fputs("# comment\nnameserver 1.1.1.1\nnameserver 8.8.8.8\ndomain ex.com\nsearch a.b c.d\n"
	      "options ndots:2 edns0\n; other\n", f);
	fclose(f);
	snprintf(ipam, sizeof(ipam), "{\"subnet\":\"10.1.0.0/24\",\"resolvConf\":\"%s\","
		 "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}", path);
	c = conf_ok(ipam);
	assert_int_equal(alloc1(c, "a", "eth0", &ip, &err), 1);
	assert_int_equal(netd_ipam_result(c, &ip, r, &err), 0);
	assert_int_equal(netd_resolv_conf_read(c->resolv_conf, &r->dns, &err), 0);
	assert_int_equal(r->n_ips, 1);
	assert_int_equal(r->n_routes, 1);
	assert_int_equal(r->dns.n_nameservers, 2);
	assert_string_equal(r->dns.nameservers[1], "8.8.8.8");
	assert_string_equal(r->dns.domain, "ex.com");
	assert_int_equal(r->dns.n_search, 2);
	assert_int_equal(r->dns.n_options, 2);
	assert_string_equal(r->dns.options[1], "edns0");
	cni_result_free(r);
	netd_ipam_conf_free(c);

	snprintf(ipam, sizeof(ipam), "{\"subnet\":\"10.1.0.0/24\",\"resolvConf\":\"%s/nope\"}", tmpdir);
	c = conf_ok(ipam);
	r = cni_result_new();
	assert_int_equal(netd_resolv_conf_read(c->resolv_conf, &r->dns, &err), -ENOENT);
	assert_int_equal(err.code, CNI_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot read"));
	assert_non_null(strstr(err.msg, "/nope"));
	cni_result_free(r);
	netd_ipam_conf_free(c);
}

static void test_list_skips_foreign_files(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	struct netd_ipam_lease *l;
	struct netd_ipam_store *s;
	size_t n;

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	put("README", "a\r\neth0");
	assert_int_equal(netd_ipam_store_open(c->data_dir, c->network, &s, NULL), 0);
	assert_int_equal(netd_ipam_store_list(s, &l, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].id, "a");
	assert_string_equal(l[0].ifname, "eth0");
	netd_ipam_leases_free(l, n);
	netd_ipam_store_close(s);
	netd_ipam_conf_free(c);
}

/* ---- the index (.netd-index/): a cache that must never give a wrong answer ---- */

static bool indexed(struct netd_ipam_conf *c)
{
	struct netd_ipam_store *s;
	bool yes;

	assert_int_equal(netd_ipam_store_open(c->data_dir, c->network, &s, NULL), 0);
	yes = netd_ipam_store_indexed(s);
	netd_ipam_store_close(s);
	return yes;
}

static void test_index_tracks_attachments(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_string_equal(alloc_str(c, "a", "eth1"), "10.1.0.3/24");
	assert_string_equal(alloc_str(c, "x/y z", "eth0"), "10.1.0.4/24");
	assert_true(indexed(c));
	assert_string_equal(slurp(".netd-index/a+eth0"), "netd-ipam index v1\n10.1.0.2\n");
	assert_string_equal(slurp(".netd-index/x%2Fy%20z+eth0"), "netd-ipam index v1\n10.1.0.4\n");
	/* the stamp lives in the lock file, which host-local never reads */
	assert_non_null(strstr(slurp("lock"), "netd-index "));
	assert_int_equal(release1(c, "a", "eth0"), 1);
	assert_null(slurp(".netd-index/a+eth0"));
	assert_non_null(slurp(".netd-index/a+eth1"));
	assert_string_equal(alloc_str(c, "a", "eth1"), "10.1.0.3/24");	/* found through the index */
	netd_ipam_conf_free(c);
}

/* What host-local does behind our back, right after one of our runs (maybe in
 * the same timestamp tick): release ours, hand the address to someone else,
 * reserve more. Every answer must still be right. */
static void test_index_foreign_changes(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");
	struct netd_ipam_store *s;
	struct netd_err err = {0};
	struct netd_addr addr = A("10.1.0.7");
	char path[256];

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	snprintf(path, sizeof(path), "%s/net1/10.1.0.2", tmpdir);
	assert_int_equal(unlink(path), 0);
	put("10.1.0.2", "b\r\neth0");
	put("10.1.0.7", "h\r\neth0");
	/* a's entry points at .2, which is b's now: a gets a new address */
	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.3/24");
	assert_int_equal(netd_ipam_store_open(c->data_dir, c->network, &s, NULL), 0);
	assert_int_equal(netd_ipam_check(c, s, "h", "eth0", &addr, 1, &err), 0);
	netd_ipam_store_close(s);
	assert_int_equal(release1(c, "b", "eth0"), 1);
	assert_int_equal(release1(c, "h", "eth0"), 1);
	assert_null(slurp("10.1.0.2"));
	assert_null(slurp("10.1.0.7"));
	assert_string_equal(slurp("10.1.0.3"), "a\r\neth0");
	assert_true(indexed(c));
	netd_ipam_conf_free(c);
}

static int rm_index(struct netd_ipam_conf *c)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/net1/.netd-index", tmpdir);
	return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_index_lost_or_garbled(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/24\"}");

	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_string_equal(alloc_str(c, "b", "eth0"), "10.1.0.3/24");
	assert_int_equal(rm_index(c), 0);
	assert_string_equal(alloc_str(c, "a", "eth0"), "10.1.0.2/24");
	assert_int_equal(release1(c, "a", "eth0"), 1);
	put(".netd-index/b+eth0", "garbage");
	assert_string_equal(alloc_str(c, "b", "eth0"), "10.1.0.3/24");
	put(".netd-index/b+eth0", "netd-ipam index v1\n10.1.0.9\n");
	assert_int_equal(release1(c, "b", "eth0"), 1);
	assert_null(slurp("10.1.0.3"));
	put("lock", "");	/* a stamp that is gone: rebuilt */
	assert_string_equal(alloc_str(c, "c", "eth0"), "10.1.0.4/24");
	assert_true(indexed(c));
	netd_ipam_conf_free(c);
}

/* A directory host-local filled: the first run indexes it, once. */
static void test_index_built_from_host_local_dir(void **state)
{
	struct netd_ipam_conf *c = conf_ok("{\"subnet\":\"10.1.0.0/16\"}");
	char name[32], body[32], want[64];

	assert_string_equal(alloc_str(c, "first", "eth0"), "10.1.0.2/16");
	assert_int_equal(rm_index(c), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "10.1.1.%d", i % 250 + 1);
		if (i >= 250)
			snprintf(name, sizeof(name), "10.1.2.%d", i - 249);
		snprintf(body, sizeof(body), "h%d\r\neth0", i);
		put(name, body);
	}
	put("10.1.3.1", "old");		/* id-only, from an old host-local */
	assert_string_equal(alloc_str(c, "h17", "eth0"), "10.1.1.18/16");	/* idempotent */
	snprintf(want, sizeof(want), "netd-ipam index v1\n10.1.1.18\n");
	assert_string_equal(slurp(".netd-index/h17+eth0"), want);
	assert_string_equal(slurp(".netd-index/old+"), "netd-ipam index v1\n10.1.3.1\n");
	assert_int_equal(release1(c, "old", "eth3"), 1);
	assert_int_equal(release1(c, "h299", "eth0"), 1);
	assert_null(slurp("10.1.2.50"));
	netd_ipam_conf_free(c);
}

/* ---- in-process CNI commands (what a main plugin runs instead of exec) ---- */

static void test_cni_run_in_process(void **state)
{
	char cfg[512];
	json_t *conf;
	struct cni_result *r = NULL;
	struct cni_ctx ctx = {.container_id = "ctr1", .ifname = "eth0", .netns = "/proc/self/ns/net"};

	snprintf(cfg, sizeof(cfg), "{\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"type\":\"netd-bridge\","
		 "\"ipam\":{\"type\":\"netd-ipam\",\"subnet\":\"10.1.0.0/29\",\"dataDir\":\"%s\","
		 "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}", tmpdir);
	assert_non_null(conf = json_loads(cfg, 0, NULL));
	ctx.config = conf;
	ctx.cmd = CNI_CMD_ADD;	/* the main plugin's own command must not leak into the sub-run */
	assert_int_equal(cni_invoke(&ctx, &netd_ipam_plugin, CNI_CMD_ADD, &r, &ctx.err), 0);
	assert_non_null(r);
	assert_int_equal(r->n_ips, 1);
	assert_string_equal(astr(&r->ips[0].address.addr), "10.1.0.2");
	assert_string_equal(astr(&r->ips[0].gateway), "10.1.0.1");
	assert_int_equal(r->n_routes, 1);
	assert_null(ctx.result);
	assert_false(ctx.err.msg[0]);
	cni_result_free(r);
	assert_string_equal(slurp("10.1.0.2"), "ctr1\r\neth0");
	/* a repeated ADD gets the same address back and says it reserved nothing */
	assert_int_equal(netd_ipam_cni_held(&ctx, &ctx.err), 1);
	assert_int_equal(cni_invoke(&ctx, &netd_ipam_plugin, CNI_CMD_ADD, &r, &ctx.err), 1);
	assert_string_equal(astr(&r->ips[0].address.addr), "10.1.0.2");
	cni_result_free(r);

	ctx.container_id = "ctr2";
	assert_int_equal(netd_ipam_cni_held(&ctx, &ctx.err), 0);
	assert_int_equal(cni_invoke(&ctx, &netd_ipam_plugin, CNI_CMD_ADD, NULL, &ctx.err), 0);
	assert_int_equal(cni_invoke(&ctx, &netd_ipam_plugin, CNI_CMD_CHECK, NULL, &ctx.err), 0);
	assert_int_equal(cni_invoke(&ctx, &netd_ipam_plugin, CNI_CMD_DEL, NULL, &ctx.err), 0);
	assert_null(slurp("10.1.0.3"));
	assert_int_equal(cni_invoke(&ctx, &netd_ipam_plugin, CNI_CMD_DEL, NULL, &ctx.err), 0);	/* idempotent */

	/* errors come back as the binary's error object would: code + message */
	for (int i = 0; i < 8; i++) {	/* 4 fit beside ctr1 in the /29 */
		char id[8];

		snprintf(id, sizeof(id), "f%d", i);
		ctx.container_id = id;
		if (cni_invoke(&ctx, &netd_ipam_plugin, CNI_CMD_ADD, NULL, &ctx.err) < 0)
			break;
	}
	assert_int_equal(ctx.err.code, NETD_ERR_IPAM_FULL);
	assert_string_equal(ctx.err.msg, "netd-ipam ADD: no IP addresses available in range set 10.1.0.0/29");
	json_decref(conf);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_conf_legacy_defaults),
		T(test_conf_default_datadir),
		T(test_conf_ranges_full),
		T(test_conf_legacy_prepended),
		T(test_conf_errors),
		T(test_conf_requests),
		T(test_order),
		T(test_order_nothing_usable),
		T(test_usable),
		T(test_store_format),
		T(test_round_robin_and_exhaustion),
		T(test_last_reserved_garbage),
		T(test_idempotent_add),
		T(test_requested),
		T(test_rollback_on_full_second_set),
		T(test_release_formats),
		T(test_check),
		T(test_gc),
		T(test_status),
		T(test_result_and_resolv),
		T(test_list_skips_foreign_files),
		T(test_index_tracks_attachments),
		T(test_index_foreign_changes),
		T(test_index_lost_or_garbled),
		T(test_index_built_from_host_local_dir),
		T(test_cni_run_in_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
