/* test_nft.c — masquerade elements in `inet netd_cni` and macspoofchk in
 * `bridge netd_cni`, checked against the kernel: through our own listing, through the nft CLI (what an operator
 * sees), and with real packets between network namespaces.
 *
 * Needs root; runs in a private network + mount namespace (tmpfs on
 * /run/netns and /run/netd), so nothing leaks to the host.
 *
 * One file of ~800 lines on purpose: the masquerade and macspoofchk tables
 * are DELeted together (netd_nft_del), and the cases share the fixture in
 * tests/harness/nft_fixture.h; costs are measured in bench/nft.c. */
#include <arpa/inet.h>
#include <dirent.h>
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
#include "unit.h"
#include "nft_fixture.h"

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

	assert_int_equal(del_masq(a, &err), 0);
	assert_null(owner_of("10.88.0.2", NULL));
	assert_string_equal(owner_of("10.88.0.3", NULL), b);
	assert_int_equal(netd_nft_masq_has(&pa, a, &err), 0);
	assert_int_equal(netd_nft_masq_has(&pb, b, &err), 1);
	/* both sets lost A's element, B's remain */
	struct nft_counts c = nft_counts();
	assert_int_equal(c.elems[0], 1);
	assert_int_equal(c.elems[1], 1);

	/* DEL again: nothing to remove is success */
	assert_int_equal(del_masq(a, &err), 0);
	assert_string_equal(owner_of("10.88.0.3", NULL), b);
	assert_int_equal(del_masq(b, &err), 0);
	assert_int_equal(list_count(), 0);
	c = nft_counts();
	assert_int_equal(c.elems[1], 0);
}

static void test_del_without_table(void **state)
{
	struct netd_err err = { 0 };
	struct netd_addr a = P("10.1.1.1/32").addr;
	const char *keep[1] = { owner("x", "y") };

	assert_int_equal(del_masq(owner("x", "y"), &err), 0);
	assert_int_equal(del_masq_addr(&a, owner("x", "y"), &err), 0);
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
	assert_int_equal(del_masq(a, &err), 0);
	assert_string_equal(owner_of("10.88.0.5", NULL), b);
	struct netd_addr addr = P("10.88.0.5/24").addr;
	assert_int_equal(del_masq_addr(&addr, a, &err), 0);
	assert_string_equal(owner_of("10.88.0.5", NULL), b);

	/* reuse on a network with another subnet: the old local range goes too */
	assert_int_equal(add("10.88.0.5/16", c), 0);
	assert_string_equal(owner_of("10.88.0.5", &plen), c);
	assert_int_equal(plen, 16);
	n = nft_counts();
	assert_int_equal(n.elems[0], 1);
	assert_int_equal(n.elems[1], 1);
	assert_non_null(strstr(nft_text(), "10.88.0.5 . 10.88.0.0/16"));

	assert_int_equal(del_masq_addr(&addr, c, &err), 0);
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
	netd_test_sh("nft flush chain inet netd_cni postrouting");
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 0);
	assert_int_equal(add("10.88.0.12/24", a), 0);	/* even an add with nothing new */
	assert_int_equal(nft_counts().rules, 6);
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 1);
	/* an edited rule is noticed too */
	netd_test_sh("nft delete rule inet netd_cni postrouting handle "
	   "$(nft -a list chain inet netd_cni postrouting | awk '/masq4_local/ {print $NF}')");
	netd_test_sh("nft add rule inet netd_cni postrouting ip saddr . ip daddr @masq4_local accept");
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 0);
	assert_int_equal(add("10.88.0.13/24", a), 0);
	assert_int_equal(netd_nft_masq_has(&p, a, &err), 1);
	assert_int_equal(nft_counts().rules, 6);
	/* a set deleted with its elements */
	netd_test_sh("nft flush chain inet netd_cni postrouting && nft delete set inet netd_cni masq6");
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
	assert_int_equal(del_masq(a, &err), 0);
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
	netd_test_sh("nft add table inet netd_cni && nft add set inet netd_cni masq4 '{ type inet_service; }'");
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

	assert_int_equal(del_msp(a, &err), 0);
	assert_int_equal(msp_has("vethA", MAC3, a), 0);
	assert_int_equal(msp_has("vethB", MAC2, b), 1);
	n = msp_counts();
	assert_int_equal(n.ifaces, 1);
	assert_int_equal(n.allow, 1);
	assert_int_equal(n.rules, 1);
	assert_int_equal(del_msp(a, &err), 0);	/* nothing left: fine */
	/* del_if: only the owner's port */
	assert_int_equal(del_msp_if("vethB", a, &err), 0);
	assert_int_equal(msp_has("vethB", MAC2, b), 1);
	assert_int_equal(del_msp_if("vethB", b, &err), 0);
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
	assert_int_equal(del_msp(old, &err), 0);
	assert_int_equal(del_msp_if("vethR", old, &err), 0);
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
	netd_test_sh("nft add element bridge netd_cni macspoof_allow '{ \"vgx\" . 02:00:00:00:00:77 comment \"%s\" }'",
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

	assert_int_equal(del_msp(a, &err), 0);	/* no table: fine */
	assert_int_equal(netd_nft_macspoof_gc("msp", NULL, 0, &err), 0);
	assert_int_equal(msp_add("vethP", MAC1, a), 0);
	netd_test_sh("nft flush chain bridge netd_cni macspoof");
	assert_int_equal(msp_has("vethP", MAC1, a), 0);	/* CHECK sees it */
	assert_int_equal(msp_add("vethP", MAC1, a), 0);	/* ADD puts it back */
	assert_int_equal(msp_has("vethP", MAC1, a), 1);
	assert_int_equal(msp_counts().rules, 1);
	/* a rule edited to accept is drift too */
	netd_test_sh("nft flush chain bridge netd_cni macspoof && nft add rule bridge netd_cni macspoof "
	   "iifname @macspoof_ifaces iifname . ether saddr != @macspoof_allow accept");
	assert_int_equal(msp_has("vethP", MAC1, a), 0);
	assert_int_equal(msp_add("vethQ", MAC2, a), 0);
	assert_int_equal(msp_has("vethP", MAC1, a), 1);
	assert_int_equal(msp_counts().rules, 1);
	netd_test_sh("nft delete table bridge netd_cni");
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

/* Processes other than us that hold pipe inode ino open. */
static int pipe_holders(unsigned long ino)
{
	char want[64], path[300], link[64];
	struct dirent *p, *f;
	DIR *proc = opendir("/proc"), *fds;
	int n = 0;
	ssize_t k;

	assert_non_null(proc);
	snprintf(want, sizeof(want), "pipe:[%lu]", ino);
	while ((p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' || atoi(p->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		if (!(fds = opendir(path)))
			continue;
		while ((f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			if ((k = readlink(path, link, sizeof(link) - 1)) > 0) {
				link[k] = 0;
				n += !strcmp(link, want);
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return n;
}

/* A plugin opts in: a DEL's socket release happens in a detached grandchild.
 * The deletion is committed when the call returns, the caller has no child
 * left to reap, and the grandchild (which lingers >= 60 ms after a deletion)
 * does not hold the caller's stdout: a CNI runtime reads it to EOF. */
static void test_del_release_is_detached(void **state)
{
	const char *a = owner("det", "A");
	struct netd_addr addr = P("10.71.0.2/24").addr;
	struct netd_err err = { 0 };
	struct stat st;
	int pfd[2], status;
	pid_t pid;
	char buf[16] = "";

	netd_nft_release_in_background(true);
	assert_int_equal(add("10.71.0.2/24", a), 0);
	assert_int_equal(del_masq_addr(&addr, a, &err), 0);
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
	assert_int_equal(fstat(pfd[0], &st), 0);
	assert_int_equal(pipe_holders((unsigned long)st.st_ino), 0);
	assert_true(read(pfd[0], buf, sizeof(buf) - 1) > 0);
	assert_string_equal(buf, "done\n");
	assert_int_equal(read(pfd[0], buf, sizeof(buf)), 0);	/* EOF */
	close(pfd[0]);
	netd_nft_release_in_background(false);
}

static void test_macspoof_bad_input(void **state)
{
	struct netd_err err = { 0 };

	assert_int_equal(netd_nft_macspoof_add("this-name-is-too-long", MAC1, owner("a", "b"), &err), -EINVAL);
	assert_true(netd_err_isset(&err));
	assert_int_equal(netd_nft_macspoof_add("", MAC1, owner("a", "b"), NULL), -EINVAL);
	assert_int_equal(netd_nft_macspoof_add("veth0", NULL, owner("a", "b"), NULL), -EINVAL);
	assert_int_equal(netd_nft_macspoof_add("veth0", MAC1, "bad owner", NULL), -EINVAL);
	assert_int_equal(del_msp("", NULL), -EINVAL);
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
	netd_test_sh("ip netns add ctr && ip netns add ctr2 && ip netns add out");
	netd_test_sh("ip link add h1 type veth peer name eth0 netns ctr");
	netd_test_sh("ip link add h2 type veth peer name eth0 netns ctr2");
	netd_test_sh("ip link add h3 type veth peer name eth0 netns out");
	netd_test_sh("ip addr add 10.88.0.1/25 dev h1 && ip link set h1 up");
	netd_test_sh("ip addr add 10.88.0.129/25 dev h2 && ip link set h2 up");
	netd_test_sh("ip addr add 192.0.2.1/24 dev h3 && ip link set h3 up");
	netd_test_sh("ip -n ctr addr add 10.88.0.2/25 dev eth0 && ip -n ctr link set eth0 up && "
	   "ip -n ctr route add default via 10.88.0.1");
	netd_test_sh("ip -n ctr2 addr add 10.88.0.130/25 dev eth0 && ip -n ctr2 link set eth0 up && "
	   "ip -n ctr2 route add default via 10.88.0.129");
	netd_test_sh("ip -n out addr add 192.0.2.2/24 dev eth0 && ip -n out link set eth0 up && "
	   "ip -n out route add default via 192.0.2.1");
	netd_test_sh("echo 1 > /proc/sys/net/ipv4/ip_forward");
	/* the same for IPv6: fd88::/64 split in two /65 halves, out is fd99::2 */
	netd_test_sh("echo 1 > /proc/sys/net/ipv6/conf/all/forwarding");
	netd_test_sh("ip addr add fd88::1/65 dev h1 nodad && ip addr add fd88::8000:0:0:1/65 dev h2 nodad && "
	   "ip addr add fd99::1/64 dev h3 nodad");
	netd_test_sh("ip -n ctr addr add fd88::2/65 dev eth0 nodad && ip -n ctr route add default via fd88::1");
	netd_test_sh("ip -n ctr2 addr add fd88::8000:0:0:2/65 dev eth0 nodad && "
	   "ip -n ctr2 route add default via fd88::8000:0:0:1");
	netd_test_sh("ip -n out addr add fd99::2/64 dev eth0 nodad && ip -n out route add default via fd99::1");

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

	assert_int_equal(del_masq(o, &err), 0);
	assert_string_equal(udp_source("ctr", "out", "192.0.2.2"), "10.88.0.2");
	assert_string_equal(udp_source("ctr", "out", "fd99::2"), "fd88::2");

	netd_test_sh("ip netns del ctr && ip netns del ctr2 && ip netns del out");
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
	netd_test_sh("ip neigh flush dev br0; ip -n m1 neigh flush dev eth0; ip -n m2 neigh flush dev eth0");
}

static void test_macspoof_packets(void **state)
{
	const char *o1 = owner("brnet", "ctr1"), *o2 = owner("brnet", "ctr2"), *o3 = owner("brnet", "ctr3");
	struct netd_err err = { 0 };

	/* bridge br0 in this (host) netns, containers m1 and m2 on it */
	netd_test_sh("ip netns add m1 && ip netns add m2");
	netd_test_sh("ip link add br0 type bridge && ip addr add 10.50.0.1/24 dev br0 && ip link set br0 up");
	netd_test_sh("ip link add hm1 type veth peer name eth0 netns m1 && ip link set hm1 master br0 up");
	netd_test_sh("ip link add hm2 type veth peer name eth0 netns m2 && ip link set hm2 master br0 up");
	netd_test_sh("ip -n m1 link set eth0 address 02:00:00:00:01:01 && ip -n m1 addr add 10.50.0.2/24 dev eth0 && "
	   "ip -n m1 link set eth0 up");
	netd_test_sh("ip -n m2 link set eth0 address 02:00:00:00:01:02 && ip -n m2 addr add 10.50.0.3/24 dev eth0 && "
	   "ip -n m2 link set eth0 up");

	assert_int_equal(msp_add("hm1", MAC1, o1), 0);
	assert_int_equal(msp_add("hm2", MAC2, o2), 0);
	/* own MAC: frames pass, to the host and across the bridge */
	assert_true(ping_ns("m1", "10.50.0.1", 3));
	assert_true(ping_ns("m1", "10.50.0.3", 3));
	assert_true(ping_ns("m2", "10.50.0.1", 3));

	/* m1 takes another MAC: everything it sends is dropped at the port */
	netd_test_sh("ip -n m1 link set eth0 address 02:00:00:00:01:99");
	flush_neigh();
	assert_false(ping_ns("m1", "10.50.0.1", 1));
	assert_false(ping_ns("m1", "10.50.0.3", 1));
	/* m2 is unaffected */
	assert_true(ping_ns("m2", "10.50.0.1", 3));

	/* DEL: the port is no longer guarded, the new MAC passes */
	assert_int_equal(del_msp(o1, &err), 0);
	flush_neigh();
	assert_true(ping_ns("m1", "10.50.0.1", 3));
	/* a new owner of the port guards its own MAC: passes; spoofing drops */
	assert_int_equal(msp_add("hm1", MAC3, o3), 0);
	assert_true(ping_ns("m1", "10.50.0.1", 3));
	assert_true(ping_ns("m1", "10.50.0.3", 3));
	netd_test_sh("ip -n m1 link set eth0 address 02:00:00:00:01:01");
	flush_neigh();
	assert_false(ping_ns("m1", "10.50.0.1", 1));
	assert_true(ping_ns("m2", "10.50.0.1", 3));
	assert_false(netd_err_isset(&err));

	netd_test_sh("ip netns del m1 && ip netns del m2 && ip link del br0");
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
	};

	static const char *const dirs[] = { "/run/netns", "/run/netd", NULL };
	int rc;

	if ((rc = netd_test_private_host("test_nft", dirs)) != 0)
		return rc;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
