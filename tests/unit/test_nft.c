/* test_nft.c — masquerade elements in `inet netd_cni`, checked against the
 * kernel: through our own listing, through the nft CLI (what an operator
 * sees), and with real packets between network namespaces.
 *
 * Needs root; runs in a private network + mount namespace (tmpfs on
 * /run/netns and /run/netd), so nothing leaks to the host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "netd/nft.h"

/* ---- helpers ------------------------------------------------------------- */

static double now_us(void);

static struct netd_prefix P(const char *s)
{
	struct netd_prefix p;
	char a[64];
	const char *sl = strchr(s, '/');

	memset(&p, 0, sizeof(p));
	assert_non_null(sl);
	snprintf(a, sizeof(a), "%.*s", (int)(sl - s), s);
	p.addr.family = strchr(a, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(p.addr.family, a, p.addr.b), 1);
	p.len = (uint8_t)atoi(sl + 1);
	return p;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

static void drop_table(void)
{
	if (system("nft delete table inet netd_cni 2>/dev/null")) {
		/* absent already */
	}
	if (system("nft delete table bridge netd_cni 2>/dev/null")) {
		/* absent already */
	}
}

static const char *owner(const char *net, const char *ctr)
{
	static char buf[8][33];
	static int i;
	char *o = buf[i++ % 8];

	netd_nft_owner(net, ctr, "eth0", o);
	return o;
}

/* Owner of addr in our listing, or NULL. Also returns its subnet length. */
static const char *owner_of(const char *addr, int *plen)
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

static size_t list_count(void)
{
	struct netd_nft_masq_entry *v;
	struct netd_err err = { 0 };
	size_t n;

	assert_int_equal(netd_nft_masq_list(&v, &n, &err), 0);
	free(v);
	return n;
}

/* `nft -j list table inet netd_cni`, parsed. */
static json_t *nft_json(void)
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

static struct nft_counts nft_counts(void)
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

static char *nft_text(void)
{
	FILE *p = popen("nft list table inet netd_cni 2>&1", "r");
	static char buf[65536];
	size_t n;

	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	pclose(p);
	return buf;
}

static int add(const char *pfx, const char *o)
{
	struct netd_prefix p = P(pfx);
	struct netd_err err = { 0 };
	int rc = netd_nft_masq_add(&p, o, &err);

	if (rc < 0)
		print_error("masq_add %s: %s\n", pfx, err.msg);
	return rc;
}

static int setup(void **state)
{
	drop_table();
	return 0;
}

/* ---- owner tags ---------------------------------------------------------- */

static void test_owner_tag(void **state)
{
	char a[33], b[33], c[33], d[33];
	size_t i;

	netd_nft_owner("mynet", "abc123", "eth0", a);
	/* FNV-1a 64 as documented in nft.h, computed independently */
	assert_string_equal(a, "d69fc4dfe5d2e13436aa84274725ff5b");
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	netd_nft_owner("mynet", "abc123", "eth1", b);
	netd_nft_owner("mynet", "other", "eth0", c);
	netd_nft_owner("net2", "abc123", "eth0", d);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_memory_equal(a, b, 8);	/* same network, same prefix */
	assert_memory_equal(a, c, 8);
	assert_memory_not_equal(a, d, 8);
	/* the field boundary matters: ("ab","c") != ("a","bc") */
	netd_nft_owner("n", "ab", "c", a);
	netd_nft_owner("n", "a", "bc", b);
	assert_string_not_equal(a, b);
}

/* ---- element bookkeeping ------------------------------------------------- */

static void test_add_two_owners_del_one(void **state)
{
	const char *a = owner("net1", "ctrA"), *b = owner("net1", "ctrB");
	struct netd_err err = { 0 };
	struct netd_prefix pa = P("10.88.0.2/24"), pb = P("10.88.0.3/24");

	assert_int_equal(add("10.88.0.2/24", a), 0);
	assert_int_equal(add("10.88.0.3/24", b), 0);
	assert_string_equal(owner_of("10.88.0.2", NULL), a);
	assert_string_equal(owner_of("10.88.0.3", NULL), b);
	assert_int_equal(netd_nft_masq_has(&pa, a, &err), 1);
	assert_int_equal(netd_nft_masq_has(&pa, b, &err), 0);

	assert_int_equal(netd_nft_masq_del(a, &err), 0);
	assert_null(owner_of("10.88.0.2", NULL));
	assert_string_equal(owner_of("10.88.0.3", NULL), b);
	assert_int_equal(netd_nft_masq_has(&pa, a, &err), 0);
	assert_int_equal(netd_nft_masq_has(&pb, b, &err), 1);
	/* both sets lost A's element, B's remain */
	struct nft_counts c = nft_counts();
	assert_int_equal(c.elems[0], 1);
	assert_int_equal(c.elems[1], 1);

	/* DEL again: nothing to remove is success */
	assert_int_equal(netd_nft_masq_del(a, &err), 0);
	assert_string_equal(owner_of("10.88.0.3", NULL), b);
	assert_int_equal(netd_nft_masq_del(b, &err), 0);
	assert_int_equal(list_count(), 0);
	c = nft_counts();
	assert_int_equal(c.elems[1], 0);
}

static void test_del_without_table(void **state)
{
	struct netd_err err = { 0 };
	struct netd_addr a = P("10.1.1.1/32").addr;
	const char *keep[1] = { owner("x", "y") };

	assert_int_equal(netd_nft_masq_del(owner("x", "y"), &err), 0);
	assert_int_equal(netd_nft_masq_del_addr(&a, owner("x", "y"), &err), 0);
	assert_int_equal(netd_nft_masq_gc("x", keep, 1, &err), 0);
	assert_int_equal(list_count(), 0);
	assert_false(netd_err_isset(&err));
}

static void test_reused_address_is_replaced(void **state)
{
	const char *a = owner("net1", "old"), *b = owner("net1", "new"), *c = owner("net2", "newer");
	struct netd_err err = { 0 };
	struct nft_counts n;
	int plen = 0;

	assert_int_equal(add("10.88.0.5/24", a), 0);
	assert_int_equal(add("10.88.0.5/24", b), 0);
	assert_string_equal(owner_of("10.88.0.5", NULL), b);
	n = nft_counts();
	assert_int_equal(n.elems[0], 1);
	assert_int_equal(n.elems[1], 1);

	/* A's late DEL must not remove B's masquerade */
	assert_int_equal(netd_nft_masq_del(a, &err), 0);
	assert_string_equal(owner_of("10.88.0.5", NULL), b);
	struct netd_addr addr = P("10.88.0.5/24").addr;
	assert_int_equal(netd_nft_masq_del_addr(&addr, a, &err), 0);
	assert_string_equal(owner_of("10.88.0.5", NULL), b);

	/* reuse on a network with another subnet: the old local range goes too */
	assert_int_equal(add("10.88.0.5/16", c), 0);
	assert_string_equal(owner_of("10.88.0.5", &plen), c);
	assert_int_equal(plen, 16);
	n = nft_counts();
	assert_int_equal(n.elems[0], 1);
	assert_int_equal(n.elems[1], 1);
	assert_non_null(strstr(nft_text(), "10.88.0.5 . 10.88.0.0/16"));

	assert_int_equal(netd_nft_masq_del_addr(&addr, c, &err), 0);
	assert_int_equal(list_count(), 0);
	assert_int_equal(nft_counts().elems[1], 0);
}

static void test_idempotent_add(void **state)
{
	const char *a = owner("net1", "idem");
	struct nft_counts n;
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(add("10.88.0.9/24", a), 0);
	n = nft_counts();
	assert_int_equal(n.rules, 6);
	assert_int_equal(n.elems[0], 1);
	assert_int_equal(n.elems[1], 1);
	/* a second address does not add rules either */
	assert_int_equal(add("10.88.0.10/24", owner("net1", "idem2")), 0);
	assert_int_equal(nft_counts().rules, 6);
}

static void test_rules_restored_after_table_loss(void **state)
{
	const char *a = owner("net1", "t1");

	assert_int_equal(add("10.88.0.11/24", a), 0);
	drop_table();
	assert_int_equal(add("10.88.0.12/24", a), 0);
	assert_int_equal(nft_counts().rules, 6);
	/* someone flushed our chain: CHECK notices, the next add puts it back */
	struct netd_prefix p = P("10.88.0.12/24");
	struct netd_err err = { 0 };

	assert_int_equal(netd_nft_masq_has(&p, a, &err), 1);
	sh("nft flush chain inet netd_cni postrouting");
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 0);
	assert_int_equal(add("10.88.0.12/24", a), 0);	/* even an add with nothing new */
	assert_int_equal(nft_counts().rules, 6);
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 1);
	/* an edited rule is noticed too */
	sh("nft delete rule inet netd_cni postrouting handle "
	   "$(nft -a list chain inet netd_cni postrouting | awk '/masq4_local/ {print $NF}')");
	sh("nft add rule inet netd_cni postrouting ip saddr . ip daddr @masq4_local accept");
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 0);
	assert_int_equal(add("10.88.0.13/24", a), 0);
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 1);
	assert_int_equal(nft_counts().rules, 6);
	/* a set deleted with its elements */
	sh("nft flush chain inet netd_cni postrouting && nft delete set inet netd_cni masq6");
	assert_int_equal(add("fd00::12/64", a), 0);
	assert_int_equal(nft_counts().rules, 6);
	assert_string_equal(owner_of("fd00::12", NULL), a);
	assert_false(netd_err_isset(&err));
}

static void test_gc_keeps_only_listed(void **state)
{
	const char *k1 = owner("gcnet", "c1"), *g2 = owner("gcnet", "c2"), *g3 = owner("gcnet", "c3");
	const char *other = owner("othernet", "c4");
	const char *keep[2] = { k1, owner("gcnet", "absent") };
	struct netd_err err = { 0 };

	assert_int_equal(add("10.90.0.2/24", k1), 0);
	assert_int_equal(add("10.90.0.3/24", g2), 0);
	assert_int_equal(add("fd90::3/64", g2), 0);
	assert_int_equal(add("10.90.0.4/24", g3), 0);
	assert_int_equal(add("10.91.0.2/24", other), 0);
	assert_int_equal(netd_nft_masq_gc("gcnet", keep, 2, &err), 0);
	assert_string_equal(owner_of("10.90.0.2", NULL), k1);
	assert_null(owner_of("10.90.0.3", NULL));
	assert_null(owner_of("fd90::3", NULL));
	assert_null(owner_of("10.90.0.4", NULL));
	assert_string_equal(owner_of("10.91.0.2", NULL), other);
	assert_int_equal(list_count(), 2);
	assert_int_equal(nft_counts().elems[1], 2);
	assert_int_equal(nft_counts().elems[3], 0);
	/* keep nothing */
	assert_int_equal(netd_nft_masq_gc("gcnet", NULL, 0, &err), 0);
	assert_int_equal(list_count(), 1);
}

static void test_v6(void **state)
{
	const char *a = owner("v6net", "c1"), *b = owner("v6net", "c2");
	struct netd_prefix p = P("fd00:88::2/64");
	struct netd_err err = { 0 };
	struct nft_counts n;
	int plen = 0;

	assert_int_equal(add("fd00:88::2/64", a), 0);
	assert_int_equal(add("fd00:88::3/64", b), 0);
	assert_int_equal(add("10.88.0.2/24", a), 0);	/* dual stack, same owner */
	assert_string_equal(owner_of("fd00:88::2", &plen), a);
	assert_int_equal(plen, 64);
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 1);
	n = nft_counts();
	assert_int_equal(n.elems[2], 2);
	assert_int_equal(n.elems[3], 2);
	assert_non_null(strstr(nft_text(), "fd00:88::2 . fd00:88::/64"));
	assert_int_equal(netd_nft_masq_del(a, &err), 0);
	assert_null(owner_of("fd00:88::2", NULL));
	assert_null(owner_of("10.88.0.2", NULL));
	assert_string_equal(owner_of("fd00:88::3", NULL), b);
}

static void test_operator_view(void **state)
{
	const char *a = owner("view", "c1");
	const char *t;
	char want[128];

	assert_int_equal(add("10.77.0.2/24", a), 0);
	t = nft_text();
	assert_non_null(strstr(t, "type nat hook postrouting priority srcnat"));
	assert_non_null(strstr(t, "ip daddr 224.0.0.0/4 return"));
	assert_non_null(strstr(t, "ip saddr . ip daddr @masq4_local return"));
	assert_non_null(strstr(t, "ip saddr @masq4 masquerade"));
	assert_non_null(strstr(t, "ip6 daddr ff00::/8 return"));
	assert_non_null(strstr(t, "ip6 saddr @masq6 masquerade"));
	snprintf(want, sizeof(want), "10.77.0.2 comment \"%s 10.77.0.0/24\"", a);
	assert_non_null(strstr(t, want));
}

static void test_bad_input(void **state)
{
	struct netd_prefix p = P("10.1.0.2/24"), q = p;
	struct netd_err err = { 0 };

	assert_int_equal(netd_nft_masq_add(&p, "bad owner", &err), -EINVAL);
	assert_true(netd_err_isset(&err));
	memset(&err, 0, sizeof(err));
	q.addr.family = AF_UNIX;
	assert_int_equal(netd_nft_masq_add(&q, owner("a", "b"), &err), -EINVAL);
	q = p;
	q.len = 33;
	assert_int_equal(netd_nft_masq_add(&q, owner("a", "b"), NULL), -EINVAL);
	assert_int_equal(netd_nft_masq_gc("", NULL, 0, NULL), -EINVAL);
	assert_int_equal(list_count(), 0);
}

static void test_kernel_error_is_reported(void **state)
{
	struct netd_prefix p = P("10.66.0.2/24");
	struct netd_err err = { 0 };
	int rc;

	/* someone else's object under our name: the kernel refuses, we say where */
	sh("nft add table inet netd_cni && nft add set inet netd_cni masq4 '{ type inet_service; }'");
	rc = netd_nft_masq_add(&p, owner("e", "c"), &err);
	assert_true(rc < 0);
	assert_int_equal(err.code, NETD_ERR_KERNEL);
	assert_non_null(strstr(err.msg, "10.66.0.2/24"));
	assert_non_null(strstr(err.msg, "masq4"));
	/* and nothing was half-done: no chain, no rules */
	assert_int_equal(nft_counts().rules, 0);
}

/* Plugin runs in parallel on a fresh host: one table, rules once, all elements. */
static void test_concurrent_adds(void **state)
{
	pid_t pids[4];
	int i, k, status;

	for (k = 0; k < 4; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			char pfx[32], id[16];

			for (i = 0; i < 50; i++) {
				snprintf(pfx, sizeof(pfx), "10.%d.0.%d/24", 60 + k, i + 2);
				snprintf(id, sizeof(id), "p%d-%d", k, i);
				if (add(pfx, owner("par", id)) < 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (k = 0; k < 4; k++) {
		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(list_count(), 200);
	assert_int_equal(nft_counts().rules, 6);
	assert_int_equal(nft_counts().elems[1], 200);
}

/* ---- macspoofchk: elements ------------------------------------------------ */

struct msp_counts {
	int rules, ifaces, allow;
};

static struct msp_counts msp_counts(void)
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

static char *msp_text(void)
{
	FILE *p = popen("nft list table bridge netd_cni 2>&1", "r");
	static char buf[65536];
	size_t n;

	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	pclose(p);
	return buf;
}

static const uint8_t MAC1[6] = { 0x02, 0, 0, 0, 0x01, 0x01 }, MAC2[6] = { 0x02, 0, 0, 0, 0x01, 0x02 },
		     MAC3[6] = { 0x02, 0, 0, 0, 0x01, 0x99 };

static int msp_add(const char *ifn, const uint8_t *mac, const char *o)
{
	struct netd_err err = { 0 };
	int rc = netd_nft_macspoof_add(ifn, mac, o, &err);

	if (rc < 0)
		print_error("macspoof_add %s: %s\n", ifn, err.msg);
	return rc;
}

static int msp_has(const char *ifn, const uint8_t *mac, const char *o)
{
	struct netd_err err = { 0 };

	return netd_nft_macspoof_has(ifn, mac, o, &err);
}

static void test_macspoof_add_has_del(void **state)
{
	const char *a = owner("msp", "ctrA"), *b = owner("msp", "ctrB");
	struct netd_err err = { 0 };
	struct msp_counts n;
	char want[160];
	int i;

	assert_int_equal(msp_has("vethA", MAC1, a), 0);	/* no table yet */
	for (i = 0; i < 3; i++)
		assert_int_equal(msp_add("vethA", MAC1, a), 0);
	assert_int_equal(msp_add("vethB", MAC2, b), 0);
	n = msp_counts();
	assert_int_equal(n.rules, 1);
	assert_int_equal(n.ifaces, 2);
	assert_int_equal(n.allow, 2);
	assert_int_equal(msp_has("vethA", MAC1, a), 1);
	assert_int_equal(msp_has("vethA", MAC2, a), 0);	/* other MAC */
	assert_int_equal(msp_has("vethA", MAC1, b), 0);	/* other owner */
	assert_int_equal(msp_has("vethB", MAC2, b), 1);
	/* what an operator sees */
	assert_non_null(strstr(msp_text(), "type filter hook prerouting priority dstnat"));
	assert_non_null(strstr(msp_text(), "iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow drop"));
	snprintf(want, sizeof(want), "\"vethA\" . 02:00:00:00:01:01 comment \"%s\"", a);
	assert_non_null(strstr(msp_text(), want));
	snprintf(want, sizeof(want), "\"vethA\" comment \"%s 02:00:00:00:01:01\"", a);
	assert_non_null(strstr(msp_text(), want));

	/* the container changed its MAC through ADD again: the old pair goes */
	assert_int_equal(msp_add("vethA", MAC3, a), 0);
	assert_int_equal(msp_has("vethA", MAC3, a), 1);
	assert_int_equal(msp_has("vethA", MAC1, a), 0);
	assert_int_equal(msp_counts().allow, 2);

	assert_int_equal(netd_nft_macspoof_del(a, &err), 0);
	assert_int_equal(msp_has("vethA", MAC3, a), 0);
	assert_int_equal(msp_has("vethB", MAC2, b), 1);
	n = msp_counts();
	assert_int_equal(n.ifaces, 1);
	assert_int_equal(n.allow, 1);
	assert_int_equal(n.rules, 1);
	assert_int_equal(netd_nft_macspoof_del(a, &err), 0);	/* nothing left: fine */
	/* del_if: only the owner's port */
	assert_int_equal(netd_nft_macspoof_del_if("vethB", a, &err), 0);
	assert_int_equal(msp_has("vethB", MAC2, b), 1);
	assert_int_equal(netd_nft_macspoof_del_if("vethB", b, &err), 0);
	assert_int_equal(msp_has("vethB", MAC2, b), 0);
	n = msp_counts();
	assert_int_equal(n.ifaces + n.allow, 0);
	assert_false(netd_err_isset(&err));
}

static void test_macspoof_reused_port_name(void **state)
{
	const char *old = owner("msp", "old"), *new = owner("msp", "new");
	struct netd_err err = { 0 };

	assert_int_equal(msp_add("vethR", MAC1, old), 0);
	/* the old container is gone without a DEL and its host veth name reused */
	assert_int_equal(msp_add("vethR", MAC2, new), 0);
	assert_int_equal(msp_has("vethR", MAC2, new), 1);
	assert_int_equal(msp_has("vethR", MAC1, old), 0);
	assert_int_equal(msp_counts().allow, 1);
	/* the old owner's late DEL leaves the new owner's guard alone */
	assert_int_equal(netd_nft_macspoof_del(old, &err), 0);
	assert_int_equal(netd_nft_macspoof_del_if("vethR", old, &err), 0);
	assert_int_equal(msp_has("vethR", MAC2, new), 1);
	/* same MAC, new owner: the allow element changes hands too */
	assert_int_equal(msp_add("vethR", MAC2, old), 0);
	assert_int_equal(msp_has("vethR", MAC2, old), 1);
	assert_int_equal(msp_has("vethR", MAC2, new), 0);
	assert_int_equal(msp_counts().allow, 1);
}

static void test_macspoof_gc(void **state)
{
	const char *k1 = owner("mgc", "c1"), *g2 = owner("mgc", "c2"), *other = owner("mother", "c3");
	const char *keep[1] = { k1 };
	struct netd_err err = { 0 };
	struct msp_counts n;

	assert_int_equal(msp_add("vg1", MAC1, k1), 0);
	assert_int_equal(msp_add("vg2", MAC2, g2), 0);
	assert_int_equal(msp_add("vg3", MAC3, other), 0);
	/* an allow element of the network with no port (someone edited the set) */
	sh("nft add element bridge netd_cni macspoof_allow '{ \"vgx\" . 02:00:00:00:00:77 comment \"%s\" }'",
	   owner("mgc", "lost"));
	assert_int_equal(msp_counts().allow, 4);
	assert_int_equal(netd_nft_macspoof_gc("mgc", keep, 1, &err), 0);
	assert_int_equal(msp_has("vg1", MAC1, k1), 1);
	assert_int_equal(msp_has("vg2", MAC2, g2), 0);
	assert_int_equal(msp_has("vg3", MAC3, other), 1);
	n = msp_counts();
	assert_int_equal(n.ifaces, 2);
	assert_int_equal(n.allow, 2);
	assert_int_equal(netd_nft_macspoof_gc("mgc", NULL, 0, &err), 0);
	assert_int_equal(msp_has("vg1", MAC1, k1), 0);
	assert_int_equal(msp_has("vg3", MAC3, other), 1);
	assert_false(netd_err_isset(&err));
}

static void test_macspoof_repair(void **state)
{
	const char *a = owner("msp", "rep");
	struct netd_err err = { 0 };

	assert_int_equal(netd_nft_macspoof_del(a, &err), 0);	/* no table: fine */
	assert_int_equal(netd_nft_macspoof_gc("msp", NULL, 0, &err), 0);
	assert_int_equal(msp_add("vethP", MAC1, a), 0);
	sh("nft flush chain bridge netd_cni macspoof");
	assert_int_equal(msp_has("vethP", MAC1, a), 0);	/* CHECK sees it */
	assert_int_equal(msp_add("vethP", MAC1, a), 0);	/* ADD puts it back */
	assert_int_equal(msp_has("vethP", MAC1, a), 1);
	assert_int_equal(msp_counts().rules, 1);
	/* a rule edited to accept is drift too */
	sh("nft flush chain bridge netd_cni macspoof && nft add rule bridge netd_cni macspoof "
	   "iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow accept");
	assert_int_equal(msp_has("vethP", MAC1, a), 0);
	assert_int_equal(msp_add("vethQ", MAC2, a), 0);
	assert_int_equal(msp_has("vethP", MAC1, a), 1);
	assert_int_equal(msp_counts().rules, 1);
	sh("nft delete table bridge netd_cni");
	assert_int_equal(msp_add("vethP", MAC1, a), 0);
	assert_int_equal(msp_has("vethP", MAC1, a), 1);
	/* the masquerade table is another table: untouched by all this */
	assert_int_equal(system("nft list table inet netd_cni >/dev/null 2>&1") == 0, 0);
	assert_false(netd_err_isset(&err));
}

/* The one-call DEL: masquerade (by address or by owner) and macspoofchk
 * (by port or by owner) in one batch; only the owner's elements go. */
static void test_del_everything_in_one_call(void **state)
{
	const char *a = owner("one", "A"), *b = owner("one", "B");
	struct netd_addr addrs[2] = { P("10.70.0.2/24").addr, P("fd70::2/64").addr };
	struct netd_addr baddr[1] = { P("10.70.0.3/24").addr };
	struct netd_nft_del_req q = { .owner = a, .masq = true, .addrs = addrs, .naddrs = 2,
				      .macspoof = true, .host_ifname = "vethA" };
	struct netd_err err = { 0 };
	int round;

	for (round = 0; round < 2; round++) {
		assert_int_equal(add("10.70.0.2/24", a), 0);
		assert_int_equal(add("fd70::2/64", a), 0);
		assert_int_equal(add("10.70.0.3/24", b), 0);
		assert_int_equal(msp_add("vethA", MAC1, a), 0);
		assert_int_equal(msp_add("vethB", MAC2, b), 0);
		/* someone else's address and port named with A's owner: untouched */
		q.addrs = baddr;
		q.naddrs = 1;
		q.host_ifname = "vethB";
		assert_int_equal(netd_nft_del(&q, &err), 0);
		assert_string_equal(owner_of("10.70.0.3", NULL), b);
		assert_int_equal(msp_has("vethB", MAC2, b), 1);
		assert_string_equal(owner_of("10.70.0.2", NULL), a);
		/* round 0: by address and port; round 1: by owner (no prevResult) */
		q.addrs = round ? NULL : addrs;
		q.naddrs = round ? 0 : 2;
		q.host_ifname = round ? NULL : "vethA";
		assert_int_equal(netd_nft_del(&q, &err), 0);
		assert_null(owner_of("10.70.0.2", NULL));
		assert_null(owner_of("fd70::2", NULL));
		assert_int_equal(msp_has("vethA", MAC1, a), 0);
		assert_string_equal(owner_of("10.70.0.3", NULL), b);
		assert_int_equal(msp_has("vethB", MAC2, b), 1);
		assert_int_equal(nft_counts().elems[1], 1);	/* B's local element only */
		assert_int_equal(nft_counts().elems[3], 0);
		assert_int_equal(msp_counts().allow, 1);
		assert_int_equal(netd_nft_del(&q, &err), 0);	/* again: nothing, fine */
	}
	assert_false(netd_err_isset(&err));
	/* no tables at all */
	drop_table();
	assert_int_equal(netd_nft_del(&q, &err), 0);
	q.host_ifname = "vethA";
	q.addrs = addrs;
	assert_int_equal(netd_nft_del(&q, &err), 0);
	q.owner = "bad owner";
	assert_int_equal(netd_nft_del(&q, NULL), -EINVAL);
}

/* A DEL's socket release happens in a detached grandchild: the deletion is
 * committed when the call returns, the caller has no child left to reap, and
 * the grandchild does not hold the caller's stdout (a CNI runtime reads it
 * to EOF; the grandchild lingers >= 60 ms after a deletion). */
static void test_del_release_is_detached(void **state)
{
	const char *a = owner("det", "A");
	struct netd_addr addr = P("10.71.0.2/24").addr;
	struct netd_err err = { 0 };
	int pfd[2], status;
	double t0, eof;
	pid_t pid;
	char c;

	assert_int_equal(add("10.71.0.2/24", a), 0);
	assert_int_equal(netd_nft_masq_del_addr(&addr, a, &err), 0);
	assert_null(owner_of("10.71.0.2", NULL));	/* committed before return */
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct netd_nft_del_req q = { .owner = a, .masq = true };

		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		if (add("10.71.0.2/24", a) < 0 || netd_nft_del(&q, NULL) < 0 || owner_of("10.71.0.2", NULL))
			_exit(1);
		printf("done\n");
		fflush(stdout);
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t0 = now_us();
	while (read(pfd[0], &c, 1) > 0)
		;
	eof = now_us() - t0;
	close(pfd[0]);
	assert_true(eof < 40000);
}

static void test_macspoof_bad_input(void **state)
{
	struct netd_err err = { 0 };

	assert_int_equal(netd_nft_macspoof_add("this-name-is-too-long", MAC1, owner("a", "b"), &err), -EINVAL);
	assert_true(netd_err_isset(&err));
	assert_int_equal(netd_nft_macspoof_add("", MAC1, owner("a", "b"), NULL), -EINVAL);
	assert_int_equal(netd_nft_macspoof_add("veth0", NULL, owner("a", "b"), NULL), -EINVAL);
	assert_int_equal(netd_nft_macspoof_add("veth0", MAC1, "bad owner", NULL), -EINVAL);
	assert_int_equal(netd_nft_macspoof_del("", NULL), -EINVAL);
	assert_int_equal(netd_nft_macspoof_gc("", NULL, 0, NULL), -EINVAL);
	assert_int_equal(system("nft list table bridge netd_cni >/dev/null 2>&1") == 0, 0);
}

/* ---- real packets ---------------------------------------------------------- */

/* A socket that lives in netns /run/netns/<ns>. */
static int ns_socket(const char *ns, int af, int type)
{
	char path[128];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), target, fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	target = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(self >= 0 && target >= 0);
	assert_int_equal(setns(target, CLONE_NEWNET), 0);
	fd = socket(af, type | SOCK_CLOEXEC, 0);
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	close(target);
	assert_true(fd >= 0);
	return fd;
}

/* Send UDP from netns `from` to dst:port (a receiver in netns `to`); returns
 * the source address the receiver saw, "" if nothing arrived. */
static const char *udp_source(const char *from, const char *to, const char *dst)
{
	static char src[INET6_ADDRSTRLEN];
	int af = strchr(dst, ':') ? AF_INET6 : AF_INET;
	struct sockaddr_storage d = { 0 }, any = { 0 };
	socklen_t sl = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 400000 };
	int r = ns_socket(to, af, SOCK_DGRAM), s = ns_socket(from, af, SOCK_DGRAM), one = 1, i;

	src[0] = 0;
	d.ss_family = any.ss_family = (sa_family_t)af;
	if (af == AF_INET) {
		((struct sockaddr_in *)&d)->sin_port = ((struct sockaddr_in *)&any)->sin_port = htons(5555);
		assert_int_equal(inet_pton(af, dst, &((struct sockaddr_in *)&d)->sin_addr), 1);
	} else {
		((struct sockaddr_in6 *)&d)->sin6_port = ((struct sockaddr_in6 *)&any)->sin6_port = htons(5555);
		assert_int_equal(inet_pton(af, dst, &((struct sockaddr_in6 *)&d)->sin6_addr), 1);
	}
	setsockopt(r, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(r, (struct sockaddr *)&any, sl), 0);
	setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (i = 0; i < 5 && !src[0]; i++) {
		struct sockaddr_storage fr;
		socklen_t fl = sizeof(fr);
		char b[8];

		sendto(s, "ping", 4, 0, (struct sockaddr *)&d, sl);
		if (recvfrom(r, b, sizeof(b), 0, (struct sockaddr *)&fr, &fl) > 0)
			inet_ntop(af, af == AF_INET ? (void *)&((struct sockaddr_in *)&fr)->sin_addr
						    : (void *)&((struct sockaddr_in6 *)&fr)->sin6_addr, src, sizeof(src));
	}
	close(r);
	close(s);
	return src;
}

static void test_packets_are_masqueraded(void **state)
{
	const char *o = owner("pktnet", "ctr");
	struct netd_err err = { 0 };

	/* host = this netns; ctr 10.88.0.2 and ctr2 10.88.0.130 are two routed
	 * halves of the container subnet 10.88.0.0/24; out is 192.0.2.2. */
	sh("ip netns add ctr && ip netns add ctr2 && ip netns add out");
	sh("ip link add h1 type veth peer name eth0 netns ctr");
	sh("ip link add h2 type veth peer name eth0 netns ctr2");
	sh("ip link add h3 type veth peer name eth0 netns out");
	sh("ip addr add 10.88.0.1/25 dev h1 && ip link set h1 up");
	sh("ip addr add 10.88.0.129/25 dev h2 && ip link set h2 up");
	sh("ip addr add 192.0.2.1/24 dev h3 && ip link set h3 up");
	sh("ip -n ctr addr add 10.88.0.2/25 dev eth0 && ip -n ctr link set eth0 up && "
	   "ip -n ctr route add default via 10.88.0.1");
	sh("ip -n ctr2 addr add 10.88.0.130/25 dev eth0 && ip -n ctr2 link set eth0 up && "
	   "ip -n ctr2 route add default via 10.88.0.129");
	sh("ip -n out addr add 192.0.2.2/24 dev eth0 && ip -n out link set eth0 up && "
	   "ip -n out route add default via 192.0.2.1");
	sh("echo 1 > /proc/sys/net/ipv4/ip_forward");
	/* the same for IPv6: fd88::/64 split in two /65 halves, out is fd99::2 */
	sh("echo 1 > /proc/sys/net/ipv6/conf/all/forwarding");
	sh("ip addr add fd88::1/65 dev h1 nodad && ip addr add fd88::8000:0:0:1/65 dev h2 nodad && "
	   "ip addr add fd99::1/64 dev h3 nodad");
	sh("ip -n ctr addr add fd88::2/65 dev eth0 nodad && ip -n ctr route add default via fd88::1");
	sh("ip -n ctr2 addr add fd88::8000:0:0:2/65 dev eth0 nodad && "
	   "ip -n ctr2 route add default via fd88::8000:0:0:1");
	sh("ip -n out addr add fd99::2/64 dev eth0 nodad && ip -n out route add default via fd99::1");

	/* without an element: routed, not masqueraded */
	assert_string_equal(udp_source("ctr", "out", "192.0.2.2"), "10.88.0.2");

	assert_int_equal(add("10.88.0.2/24", o), 0);
	assert_string_equal(udp_source("ctr", "out", "192.0.2.2"), "192.0.2.1");
	/* inside its own subnet: not masqueraded */
	assert_string_equal(udp_source("ctr", "ctr2", "10.88.0.130"), "10.88.0.2");
	/* ctr2 has no element: never masqueraded */
	assert_string_equal(udp_source("ctr2", "out", "192.0.2.2"), "10.88.0.130");

	assert_string_equal(udp_source("ctr", "out", "fd99::2"), "fd88::2");
	assert_int_equal(add("fd88::2/64", o), 0);
	assert_string_equal(udp_source("ctr", "out", "fd99::2"), "fd99::1");
	assert_string_equal(udp_source("ctr", "ctr2", "fd88::8000:0:0:2"), "fd88::2");
	assert_string_equal(udp_source("ctr2", "out", "fd99::2"), "fd88::8000:0:0:2");

	assert_int_equal(netd_nft_masq_del(o, &err), 0);
	assert_string_equal(udp_source("ctr", "out", "192.0.2.2"), "10.88.0.2");
	assert_string_equal(udp_source("ctr", "out", "fd99::2"), "fd88::2");

	sh("ip netns del ctr && ip netns del ctr2 && ip netns del out");
}

/* ---- macspoofchk: real frames ---------------------------------------------- */

static int ping_ns(const char *ns, const char *dst, int tries)
{
	char cmd[256];
	int i;

	for (i = 0; i < tries; i++) {
		snprintf(cmd, sizeof(cmd), "ip netns exec %s ping -c 2 -i 0.2 -W 1 %s >/dev/null 2>&1", ns, dst);
		if (system(cmd) == 0)
			return 1;
	}
	return 0;
}

static void flush_neigh(void)
{
	sh("ip neigh flush dev br0; ip -n m1 neigh flush dev eth0; ip -n m2 neigh flush dev eth0");
}

static void test_macspoof_packets(void **state)
{
	const char *o1 = owner("brnet", "ctr1"), *o2 = owner("brnet", "ctr2"), *o3 = owner("brnet", "ctr3");
	struct netd_err err = { 0 };

	/* bridge br0 in this (host) netns, containers m1 and m2 on it */
	sh("ip netns add m1 && ip netns add m2");
	sh("ip link add br0 type bridge && ip addr add 10.50.0.1/24 dev br0 && ip link set br0 up");
	sh("ip link add hm1 type veth peer name eth0 netns m1 && ip link set hm1 master br0 up");
	sh("ip link add hm2 type veth peer name eth0 netns m2 && ip link set hm2 master br0 up");
	sh("ip -n m1 link set eth0 address 02:00:00:00:01:01 && ip -n m1 addr add 10.50.0.2/24 dev eth0 && "
	   "ip -n m1 link set eth0 up");
	sh("ip -n m2 link set eth0 address 02:00:00:00:01:02 && ip -n m2 addr add 10.50.0.3/24 dev eth0 && "
	   "ip -n m2 link set eth0 up");

	assert_int_equal(msp_add("hm1", MAC1, o1), 0);
	assert_int_equal(msp_add("hm2", MAC2, o2), 0);
	/* own MAC: frames pass, to the host and across the bridge */
	assert_true(ping_ns("m1", "10.50.0.1", 3));
	assert_true(ping_ns("m1", "10.50.0.3", 3));
	assert_true(ping_ns("m2", "10.50.0.1", 3));

	/* m1 takes another MAC: everything it sends is dropped at the port */
	sh("ip -n m1 link set eth0 address 02:00:00:00:01:99");
	flush_neigh();
	assert_false(ping_ns("m1", "10.50.0.1", 1));
	assert_false(ping_ns("m1", "10.50.0.3", 1));
	/* m2 is unaffected */
	assert_true(ping_ns("m2", "10.50.0.1", 3));

	/* DEL: the port is no longer guarded, the new MAC passes */
	assert_int_equal(netd_nft_macspoof_del(o1, &err), 0);
	flush_neigh();
	assert_true(ping_ns("m1", "10.50.0.1", 3));
	/* a new owner of the port guards its own MAC: passes; spoofing drops */
	assert_int_equal(msp_add("hm1", MAC3, o3), 0);
	assert_true(ping_ns("m1", "10.50.0.1", 3));
	assert_true(ping_ns("m1", "10.50.0.3", 3));
	sh("ip -n m1 link set eth0 address 02:00:00:00:01:01");
	flush_neigh();
	assert_false(ping_ns("m1", "10.50.0.1", 1));
	assert_true(ping_ns("m2", "10.50.0.1", 3));
	assert_false(netd_err_isset(&err));

	sh("ip netns del m1 && ip netns del m2 && ip link del br0");
}

/* ---- cost ---------------------------------------------------------------- */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[n / 2];
}

#define N_BENCH 1000

static void test_cost_flat_at_1000(void **state)
{
	static double t[N_BENCH], d[20], da[20], dn[20], ds[20], dsa[20];
	struct netd_err err = { 0 };
	char id[32], pfx[32];
	double t0, first, last, gc;
	int i;

	for (i = 0; i < N_BENCH; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(pfx, sizeof(pfx), "10.100.%d.%d/16", i / 250, i % 250 + 2);
		t0 = now_us();
		assert_int_equal(add(pfx, owner("bench", id)), 0);
		t[i] = now_us() - t0;
	}
	assert_int_equal(list_count(), N_BENCH);
	first = median(t, 100);
	last = median(t + N_BENCH - 100, 100);
	/* DEL of an owner with nothing in the table: the pure cost of the listing */
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "absent%d", i);
		t0 = now_us();
		assert_int_equal(netd_nft_masq_del(owner("bench", id), &err), 0);
		dn[i] = now_us() - t0;
	}
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(netd_nft_masq_del(owner("bench", id), &err), 0);
		d[i] = now_us() - t0;
	}
	for (i = 20; i < 40; i++) {
		struct netd_addr a;

		snprintf(pfx, sizeof(pfx), "10.100.%d.%d/16", i / 250, i % 250 + 2);
		a = P(pfx).addr;
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(netd_nft_masq_del_addr(&a, owner("bench", id), &err), 0);
		da[i - 20] = now_us() - t0;
	}
	/* spaced like a plugin's DELs (the veth deletion alone takes ~20 ms) */
	for (i = 40; i < 60; i++) {
		usleep(30000);
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(netd_nft_masq_del(owner("bench", id), &err), 0);
		ds[i - 40] = now_us() - t0;
	}
	for (i = 60; i < 80; i++) {
		struct netd_addr a;

		usleep(30000);
		snprintf(pfx, sizeof(pfx), "10.100.%d.%d/16", i / 250, i % 250 + 2);
		a = P(pfx).addr;
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(netd_nft_masq_del_addr(&a, owner("bench", id), &err), 0);
		dsa[i - 60] = now_us() - t0;
	}
	assert_int_equal(list_count(), N_BENCH - 80);
	t0 = now_us();
	assert_int_equal(netd_nft_masq_gc("bench", NULL, 0, &err), 0);
	gc = now_us() - t0;
	assert_int_equal(list_count(), 0);
	fprintf(stderr, "nft cost: masq_add median first100 %.0f us, last100 %.0f us (of %d); at ~1000: "
		"masq_del(owner) median %.0f us (nothing to delete: %.0f us); masq_del_addr median %.0f us; "
		"gc of %d owners %.0f us; 30 ms apart: masq_del(owner) %.0f us, masq_del_addr %.0f us\n",
		first, last, N_BENCH, median(d, 20), median(dn, 20), median(da, 20), N_BENCH - 80, gc,
		median(ds, 20), median(dsa, 20));
	/* flat: a per-call full listing would grow with the element count */
	assert_true(last < 3 * first + 300);
}

static void test_macspoof_cost_at_1000(void **state)
{
	static double t[N_BENCH], d[20], di[20], h[20], d1[20];
	struct netd_err err = { 0 };
	char id[32], ifn[16];
	uint8_t mac[6] = { 0x02, 0x42, 0, 0, 0, 0 };
	double t0, first, last;
	int i;

	for (i = 0; i < N_BENCH; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(ifn, sizeof(ifn), "veth%05d", i);
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		t0 = now_us();
		assert_int_equal(msp_add(ifn, mac, owner("mbench", id)), 0);
		t[i] = now_us() - t0;
	}
	assert_int_equal(msp_counts().allow, N_BENCH);
	first = median(t, 100);
	last = median(t + N_BENCH - 100, 100);
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(ifn, sizeof(ifn), "veth%05d", i);
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		t0 = now_us();
		assert_int_equal(netd_nft_macspoof_has(ifn, mac, owner("mbench", id), &err), 1);
		h[i] = now_us() - t0;
		usleep(30000);
		t0 = now_us();
		assert_int_equal(netd_nft_macspoof_del(owner("mbench", id), &err), 0);
		d[i] = now_us() - t0;
	}
	for (i = 20; i < 40; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(ifn, sizeof(ifn), "veth%05d", i);
		usleep(30000);
		t0 = now_us();
		assert_int_equal(netd_nft_macspoof_del_if(ifn, owner("mbench", id), &err), 0);
		di[i - 20] = now_us() - t0;
	}
	/* the plugin's DEL: masquerade by address + guard by port, one call */
	for (i = 40; i < 60; i++) {
		char pfx[32];
		struct netd_addr a;
		struct netd_nft_del_req q = { .owner = NULL, .masq = true, .addrs = &a, .naddrs = 1,
					      .macspoof = true, .host_ifname = ifn };

		snprintf(id, sizeof(id), "c%d", i);
		snprintf(ifn, sizeof(ifn), "veth%05d", i);
		snprintf(pfx, sizeof(pfx), "10.101.%d.%d/16", i / 250, i % 250 + 2);
		assert_int_equal(add(pfx, owner("mbench", id)), 0);
		a = P(pfx).addr;
		q.owner = owner("mbench", id);
		usleep(30000);
		t0 = now_us();
		assert_int_equal(netd_nft_del(&q, &err), 0);
		d1[i - 40] = now_us() - t0;
		*strchr(pfx, '/') = 0;
		assert_null(owner_of(pfx, NULL));
	}
	assert_int_equal(msp_counts().allow, N_BENCH - 60);
	assert_int_equal(netd_nft_macspoof_gc("mbench", NULL, 0, &err), 0);
	assert_int_equal(msp_counts().allow, 0);
	fprintf(stderr, "macspoof cost: add median first100 %.0f us, last100 %.0f us (of %d); at ~1000, "
		"30 ms apart: has %.0f us, del(owner) %.0f us, del_if %.0f us; netd_nft_del(addr + port) %.0f us\n",
		first, last, N_BENCH, median(h, 20), median(d, 20), median(di, 20), median(d1, 20));
	assert_true(last < 3 * first + 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_tag),
		cmocka_unit_test_setup(test_add_two_owners_del_one, setup),
		cmocka_unit_test_setup(test_del_without_table, setup),
		cmocka_unit_test_setup(test_reused_address_is_replaced, setup),
		cmocka_unit_test_setup(test_idempotent_add, setup),
		cmocka_unit_test_setup(test_rules_restored_after_table_loss, setup),
		cmocka_unit_test_setup(test_gc_keeps_only_listed, setup),
		cmocka_unit_test_setup(test_v6, setup),
		cmocka_unit_test_setup(test_operator_view, setup),
		cmocka_unit_test_setup(test_bad_input, setup),
		cmocka_unit_test_setup(test_kernel_error_is_reported, setup),
		cmocka_unit_test_setup(test_concurrent_adds, setup),
		cmocka_unit_test_setup(test_packets_are_masqueraded, setup),
		cmocka_unit_test_setup(test_macspoof_add_has_del, setup),
		cmocka_unit_test_setup(test_macspoof_reused_port_name, setup),
		cmocka_unit_test_setup(test_macspoof_gc, setup),
		cmocka_unit_test_setup(test_macspoof_repair, setup),
		cmocka_unit_test_setup(test_macspoof_bad_input, setup),
		cmocka_unit_test_setup(test_del_everything_in_one_call, setup),
		cmocka_unit_test_setup(test_del_release_is_detached, setup),
		cmocka_unit_test_setup(test_macspoof_packets, setup),
		cmocka_unit_test_setup(test_cost_flat_at_1000, setup),
		cmocka_unit_test_setup(test_macspoof_cost_at_1000, setup),
	};

	if (geteuid() != 0) {
		printf("test_nft: needs root (nftables, network namespaces); skipped\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("test_nft: cannot make private namespaces (%s); skipped\n", strerror(errno));
		return 77;
	}
	mkdir("/run/netns", 0755);
	mkdir("/run/netd", 0755);
	if (mount("tmpfs", "/run/netns", "tmpfs", 0, "mode=0755") < 0 ||
	    mount("tmpfs", "/run/netd", "tmpfs", 0, "mode=0755") < 0) {
		printf("test_nft: cannot mount private /run/netns, /run/netd (%s); skipped\n", strerror(errno));
		return 77;
	}
	if (system("ip link set lo up")) {
		/* not needed by the tests */
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
