/* ifconf: an IPAM result applied to a real interface, reported, CHECKed.
 * Runs in a private netns of its own (root only, else skip 77). */
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

#include "netd/ifconf.h"

static struct netd_nl *nl;
static struct netd_link eth0;

static struct cni_result *ipam_result(void)
{
	struct cni_result *r = cni_result_new();
	struct cni_ip ip4 = {.iface = -1}, ip6 = {.iface = -1};
	struct cni_route rt = {.scope = -1};

	netd_prefix_parse("10.66.0.5/24", &ip4.address);
	netd_addr_parse("10.66.0.1", &ip4.gateway);
	netd_prefix_parse("fd66::5/64", &ip6.address);
	netd_addr_parse("fd66::1", &ip6.gateway);
	netd_prefix_parse("192.0.2.0/24", &rt.dst);
	netd_addr_parse("10.66.0.254", &rt.gw);
	cni_result_add_ip(r, &ip4);
	cni_result_add_ip(r, &ip6);
	cni_result_add_route(r, &rt);
	cni_dns_add(&r->dns.nameservers, &r->dns.n_nameservers, "10.66.0.53");
	return r;
}

static bool has_addr(const char *s)
{
	struct netd_prefix want, *list = NULL;
	size_t n = 0;
	bool found = false;

	netd_prefix_parse(s, &want);
	assert_int_equal(netd_nl_addr_list(nl, eth0.ifindex, 0, &list, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		found |= netd_addr_eq(&list[i].addr, &want.addr) && list[i].len == want.len;
	free(list);
	return found;
}

static bool has_default_route(int family)
{
	struct netd_route *list = NULL;
	size_t n = 0;
	bool found = false;

	assert_int_equal(netd_nl_route_list(nl, family, 0, &list, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		found |= list[i].dst.len == 0 && list[i].gw.family == family;
	free(list);
	return found;
}

static void test_apply_result_check(void **state)
{
	struct cni_result *ipam = ipam_result();
	struct cni_ctx ctx = {.ifname = "eth0", .netns = "/proc/self/ns/net"};
	struct netd_link now;
	int ci;

	assert_int_equal(netd_ifconf_apply(nl, eth0.ifindex, ipam, true, &ctx.err), 0);
	assert_int_equal(netd_nl_link_get_index(nl, eth0.ifindex, &now, NULL), 0);
	assert_true(now.up);
	assert_true(has_addr("10.66.0.5/24"));
	assert_true(has_addr("fd66::5/64"));
	assert_true(has_default_route(AF_INET));
	assert_true(has_default_route(AF_INET6));

	/* the result: the interface in its sandbox, addresses on it, IPAM's
	 * route plus one default route per gateway, DNS */
	ci = netd_ifconf_result(&ctx, &now, ipam, true);
	assert_int_equal(ci, 0);
	assert_string_equal(ctx.result->ifaces[0].name, "eth0");
	assert_string_equal(ctx.result->ifaces[0].sandbox, "/proc/self/ns/net");
	assert_int_equal(ctx.result->n_ips, 2);
	assert_int_equal(ctx.result->ips[1].iface, 0);
	assert_int_equal(ctx.result->n_routes, 3);
	assert_int_equal(ctx.result->dns.n_nameservers, 1);

	/* CHECK against what was built: clean, then drift named */
	ctx.prev = ctx.result;
	ctx.result = NULL;
	assert_int_equal(netd_ifconf_check(&ctx, nl, 0, &now), 0);
	assert_int_equal(netd_nl_addr_del(nl, eth0.ifindex, &ctx.prev->ips[1].address, NULL), 0);
	assert_int_equal(netd_ifconf_check(&ctx, nl, 0, &now), -EINVAL);
	assert_int_equal(ctx.err.code, NETD_ERR_DRIFT);
	assert_string_equal(ctx.err.msg, "address fd66::5/64 is missing from interface eth0");
	cni_result_free(ctx.prev);
	cni_result_free(ipam);
}

static void test_apply_error_names_route(void **state)
{
	struct cni_result *ipam = cni_result_new();
	struct cni_route rt = {.scope = -1};
	struct netd_err err = {0};

	/* a gateway that is on no subnet of the interface */
	netd_prefix_parse("198.51.100.0/24", &rt.dst);
	netd_addr_parse("203.0.113.1", &rt.gw);
	cni_result_add_route(ipam, &rt);
	assert_true(netd_ifconf_apply(nl, eth0.ifindex, ipam, false, &err) < 0);
	assert_int_equal(err.code, NETD_ERR_KERNEL);
	assert_non_null(strstr(err.msg, "route"));
	cni_result_free(ipam);
}

static int setup(void **state)
{
	struct netd_veth_opts vo = {.host_name = "v0", .peer_name = "eth0", .peer_nsfd = -1};

	assert_int_equal(netd_nl_open(-1, &nl, NULL), 0);
	assert_int_equal(netd_nl_veth_create(nl, &vo, NULL), 0);
	assert_int_equal(netd_nl_link_get(nl, "eth0", &eth0, NULL), 0);
	assert_int_equal(netd_nl_link_set_up(nl, eth0.ifindex, true, NULL), 0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_result_check),
		cmocka_unit_test(test_apply_error_names_route),
	};

	if (geteuid() != 0) {
		printf("skipped: needs root for a private network namespace\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare");
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, NULL);
}
