/* overlay: the shared devices of an overlay network on one host, its remote
 * list made equal to data, and teardown decided from the bridge's ports.
 * Each test runs in a fresh private netns (root only, else skip 77). */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/overlay.h"

static struct netd_nl *nl;

static struct netd_addr A(const char *s)
{
	struct netd_addr a;

	assert_int_equal(netd_addr_parse(s, &a), 0);
	return a;
}

static int link_index(const char *name)
{
	struct netd_link l;

	return netd_nl_link_get(nl, name, &l, NULL) == 0 ? l.ifindex : 0;
}

static int setup(void **state)
{
	struct netd_veth_opts vo = {.host_name = "ul0", .peer_name = "ul1", .peer_nsfd = -1, .up = true};
	struct netd_prefix p;

	assert_int_equal(unshare(CLONE_NEWNET), 0);
	assert_int_equal(netd_nl_open(-1, &nl, NULL), 0);
	assert_int_equal(netd_nl_veth_create(nl, &vo, NULL), 0);
	netd_prefix_parse("192.0.2.1/24", &p);
	assert_int_equal(netd_nl_addr_add(nl, link_index("ul0"), &p, false, NULL), 0);
	vo = (struct netd_veth_opts){.host_name = "bare0", .peer_name = "bare1", .peer_nsfd = -1};
	assert_int_equal(netd_nl_veth_create(nl, &vo, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	netd_nl_free(nl);
	return 0;
}

static void test_names_and_overhead(void **state)
{
	char br[IFNAMSIZ], vx[IFNAMSIZ];

	netd_overlay_names(NETD_OVERLAY_VNI_MAX, br, vx);
	assert_string_equal(br, "ndob16777215");
	assert_string_equal(vx, "ndov16777215");
	assert_int_equal(netd_overlay_overhead(AF_INET), 50);
	assert_int_equal(netd_overlay_overhead(AF_INET6), 70);
}

static void test_underlay(void **state)
{
	struct netd_overlay_underlay u;
	struct netd_err err = {0};
	struct netd_addr want = A("192.0.2.1");

	assert_int_equal(netd_overlay_underlay(nl, "ul0", &u, &err), 0);
	assert_string_equal(u.name, "ul0");
	assert_true(netd_addr_eq(&u.local, &want));
	assert_int_equal(u.mtu, 1500);
	memset(&u, 0, sizeof(u));
	assert_int_equal(netd_overlay_underlay(nl, "192.0.2.1", &u, &err), 0);
	assert_string_equal(u.name, "ul0");

	assert_int_equal(netd_overlay_underlay(nl, "nosuch0", &u, &err), -EINVAL);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	assert_string_equal(err.msg, "underlay nosuch0: no such interface or address");
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_overlay_underlay(nl, "bare0", &u, &err), -EINVAL);
	assert_string_equal(err.msg, "underlay bare0 has no IPv4 or global IPv6 address");
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_overlay_underlay(nl, "192.0.2.9", &u, &err), -EINVAL);
	assert_string_equal(err.msg, "underlay 192.0.2.9 is not an address of this host");
}

static size_t floods(int vx, const char *dst)
{
	struct netd_fdb *f = NULL;
	struct netd_addr d = A(dst);
	size_t n = 0, hits = 0;

	assert_int_equal(netd_nl_fdb_list(nl, vx, &f, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		hits += netd_addr_eq(&f[i].dst, &d);
	free(f);
	return hits;
}

static void test_ensure_apply_release(void **state)
{
	struct netd_overlay_underlay u;
	struct netd_overlay_devs d, d2;
	struct netd_err err = {0};

	assert_int_equal(netd_overlay_underlay(nl, "ul0", &u, &err), 0);
	struct netd_overlay o = {.network = "ov", .vni = 42, .mtu = 1450, .underlay = &u};

	assert_int_equal(netd_overlay_ensure(nl, &o, &d, &err), 0);
	assert_true(d.created_bridge && d.created_vxlan);
	assert_string_equal(d.bridge.name, "ndob42");
	assert_string_equal(d.vxlan.name, "ndov42");
	assert_int_equal(d.vxlan.master, d.bridge.ifindex);
	assert_int_equal(d.vxlan.vni, 42);
	assert_int_equal(d.vxlan.mtu, 1450);
	/* again: the same devices, nothing created */
	assert_int_equal(netd_overlay_ensure(nl, &o, &d2, &err), 0);
	assert_false(d2.created_bridge || d2.created_vxlan);
	assert_int_equal(d2.bridge.ifindex, d.bridge.ifindex);
	/* another network may not take them over */
	o.network = "other";
	assert_int_equal(netd_overlay_ensure(nl, &o, &d2, &err), -EEXIST);
	assert_int_equal(err.code, NETD_ERR_IN_USE);
	assert_non_null(strstr(err.msg, "VNI 42 is in use on this host by another network"));
	memset(&err, 0, sizeof(err));

	/* the remote list follows the data: added, then the dropped peer removed */
	struct netd_addr peers[] = {A("192.0.2.2"), A("192.0.2.3")};
	struct netd_overlay_endpoint ep = {.mac = {0x02, 0x42, 0, 0, 0, 9}, .vtep = A("192.0.2.3")};
	struct netd_overlay_remotes r = {.vteps = peers, .n_vteps = 2, .endpoints = &ep, .n_endpoints = 1};
	int vx = d.vxlan.ifindex;

	assert_int_equal(netd_overlay_apply(nl, vx, &r, &err), 0);
	assert_int_equal(floods(vx, "192.0.2.2"), 1);
	assert_int_equal(floods(vx, "192.0.2.3"), 2);	/* flood + the endpoint */
	assert_int_equal(netd_overlay_apply(nl, vx, &r, &err), 0);	/* steady: no change */
	assert_int_equal(floods(vx, "192.0.2.3"), 2);
	r.vteps = &peers[1];
	r.n_vteps = 1;
	r.n_endpoints = 0;
	assert_int_equal(netd_overlay_apply(nl, vx, &r, &err), 0);
	assert_int_equal(floods(vx, "192.0.2.2"), 0);
	assert_int_equal(floods(vx, "192.0.2.3"), 1);

	/* a container port keeps the devices; without it they go */
	struct netd_veth_opts vo = {.host_name = "vc0", .peer_name = "vc1", .peer_nsfd = -1,
				    .master = d.bridge.ifindex};
	assert_int_equal(netd_nl_veth_create(nl, &vo, &err), 0);
	assert_int_equal(netd_overlay_release(nl, 42, "ov", &err), 0);
	assert_int_not_equal(link_index("ndob42"), 0);
	assert_int_equal(netd_nl_link_del(nl, link_index("vc0"), &err), 0);
	/* another network's release leaves them alone */
	assert_int_equal(netd_overlay_release(nl, 42, "other", &err), 0);
	assert_int_not_equal(link_index("ndob42"), 0);
	assert_int_equal(netd_overlay_release(nl, 42, "ov", &err), 1);
	assert_int_equal(link_index("ndob42"), 0);
	assert_int_equal(link_index("ndov42"), 0);
	assert_int_equal(netd_overlay_release(nl, 42, "ov", &err), 1);	/* gone: done */
	assert_false(netd_err_isset(&err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_overhead),
		cmocka_unit_test_setup_teardown(test_underlay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ensure_apply_release, setup, teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_overlay: needs root (network namespaces); skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
