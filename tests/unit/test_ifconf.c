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
#include <net/if.h>

#include "netd/ifconf.h"
#include "unit.h"

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

/* A container interface of a network: `name` (up, peer "h-<name>" up too). */
static int new_link(const char *name)
{
	char host[IFNAMSIZ];
	struct netd_link l;

	snprintf(host, sizeof(host), "h-%s", name);
	struct netd_veth_opts vo = {.host_name = host, .peer_name = name, .peer_nsfd = -1, .up = true};
	assert_int_equal(netd_nl_veth_create(nl, &vo, NULL), 0);
	assert_int_equal(netd_nl_link_get(nl, name, &l, NULL), 0);
	assert_int_equal(netd_nl_link_set_up(nl, l.ifindex, true, NULL), 0);
	return l.ifindex;
}

/* IPAM's answer for one network: an IPv4 and an IPv6 address with their
 * gateways (gateway NULL = none) and no routes. */
static struct cni_result *ipam_net(const char *a4, const char *gw4, const char *a6, const char *gw6)
{
	struct cni_result *r = cni_result_new();
	struct cni_ip ip4 = {.iface = -1}, ip6 = {.iface = -1};

	assert_int_equal(netd_prefix_parse(a4, &ip4.address), 0);
	assert_int_equal(netd_prefix_parse(a6, &ip6.address), 0);
	if (gw4)
		assert_int_equal(netd_addr_parse(gw4, &ip4.gateway), 0);
	if (gw6)
		assert_int_equal(netd_addr_parse(gw6, &ip6.gateway), 0);
	cni_result_add_ip(r, &ip4);
	cni_result_add_ip(r, &ip6);
	return r;
}

/* dst, gw (NULL = none given), priority (0 = none) */
static void ipam_route(struct cni_result *r, const char *dst, const char *gw, int prio)
{
	struct cni_route rt = {.scope = -1, .priority = prio};

	assert_int_equal(netd_prefix_parse(dst, &rt.dst), 0);
	if (gw)
		assert_int_equal(netd_addr_parse(gw, &rt.gw), 0);
	cni_result_add_route(r, &rt);
}

/* How many main-table routes to dst via gw (NULL = without one) on ifindex;
 * *metric gets the last one's metric. */
static int kernel_routes(const char *dst, const char *gw, int ifindex, int *metric)
{
	struct netd_prefix d;
	struct netd_addr g = {0};
	struct netd_route *list = NULL;
	size_t n = 0;
	int found = 0;

	assert_int_equal(netd_prefix_parse(dst, &d), 0);
	if (gw)
		assert_int_equal(netd_addr_parse(gw, &g), 0);
	assert_int_equal(netd_nl_route_list(nl, d.addr.family, 0, &list, &n, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		if (list[i].dst.len != d.len || !netd_addr_eq(&list[i].dst.addr, &d.addr) ||
		    list[i].ifindex != ifindex || list[i].gw.family != g.family ||
		    (g.family && !netd_addr_eq(&list[i].gw, &g)))
			continue;
		found++;
		if (metric)
			*metric = list[i].metric;
	}
	free(list);
	return found;
}

/* podman's {"dst": "0.0.0.0/0"}: no gw means IPAM's gateway of that family,
 * in the kernel and in the result, IPv4 and IPv6; without a gateway the
 * route stays on the link. */
static void test_route_without_gw_uses_gateway(void **state)
{
	struct cni_result *ipam = ipam_net("10.70.0.5/24", "10.70.0.1", "fd70::5/64", "fd70::1");
	struct cni_ctx ctx = {.ifname = "ea", .netns = "/proc/self/ns/net"};
	struct netd_link l;
	char gw[NETD_ADDR_STRLEN];
	int ix = new_link("ea");

	ipam_route(ipam, "0.0.0.0/0", NULL, 0);
	ipam_route(ipam, "::/0", NULL, 0);
	assert_int_equal(netd_ifconf_apply(nl, ix, ipam, false, &ctx.err), 0);
	assert_int_equal(kernel_routes("0.0.0.0/0", "10.70.0.1", ix, NULL), 1);
	assert_int_equal(kernel_routes("::/0", "fd70::1", ix, NULL), 1);
	assert_int_equal(kernel_routes("0.0.0.0/0", NULL, ix, NULL), 0);

	assert_int_equal(netd_nl_link_get_index(nl, ix, &l, NULL), 0);
	assert_int_equal(netd_ifconf_result(&ctx, &l, ipam, false), 0);
	assert_int_equal(ctx.result->n_routes, 2);
	assert_string_equal(netd_addr_str(&ctx.result->routes[0].gw, gw), "10.70.0.1");
	assert_string_equal(netd_addr_str(&ctx.result->routes[1].gw, gw), "fd70::1");
	ctx.prev = ctx.result;
	ctx.result = NULL;
	assert_int_equal(netd_ifconf_check(&ctx, nl, 0, &l), 0);
	cni_result_free(ctx.prev);
	cni_result_free(ipam);

	ipam = ipam_net("10.71.0.5/24", NULL, "fd71::5/64", NULL);
	ipam_route(ipam, "10.99.0.0/16", NULL, 0);
	ix = new_link("eb");
	assert_int_equal(netd_ifconf_apply(nl, ix, ipam, true, &ctx.err), 0);
	assert_int_equal(kernel_routes("10.99.0.0/16", NULL, ix, NULL), 1);
	assert_int_equal(kernel_routes("0.0.0.0/0", NULL, ix, NULL), 0);
	cni_result_free(ipam);
}

/* A container on two networks keeps one default route per network, at
 * distinct metrics in the order of attachment; when the first network's
 * interface goes, the second's route is still there. */
static void test_two_networks_two_default_routes(void **state)
{
	struct cni_result *a = ipam_net("10.72.0.5/24", "10.72.0.1", "fd72::5/64", "fd72::1");
	struct cni_result *b = ipam_net("10.73.0.5/24", "10.73.0.1", "fd73::5/64", "fd73::1");
	struct cni_result *c = ipam_net("10.74.0.5/24", "10.74.0.1", "fd74::5/64", "fd74::1");
	struct netd_err err = {0};
	int ia = new_link("ea"), ib = new_link("eb"), ic = new_link("ec"), m = -1;

	ipam_route(a, "0.0.0.0/0", NULL, 0);
	ipam_route(a, "::/0", NULL, 0);
	ipam_route(b, "0.0.0.0/0", NULL, 0);
	ipam_route(b, "::/0", NULL, 0);
	assert_int_equal(netd_ifconf_apply(nl, ia, a, false, &err), 0);
	assert_int_equal(netd_ifconf_apply(nl, ib, b, false, &err), 0);
	assert_int_equal(kernel_routes("0.0.0.0/0", "10.72.0.1", ia, &m), 1);
	assert_int_equal(m, 0);
	assert_int_equal(kernel_routes("0.0.0.0/0", "10.73.0.1", ib, &m), 1);
	assert_int_equal(m, 1);
	assert_int_equal(kernel_routes("::/0", "fd72::1", ia, &m), 1);
	assert_int_equal(m, 1024);
	assert_int_equal(kernel_routes("::/0", "fd73::1", ib, &m), 1);
	assert_int_equal(m, 1025);

	/* network A goes: B's routes stay; a network attached later (as
	 * isDefaultGateway) comes after B, not in A's old place */
	assert_int_equal(netd_nl_link_del(nl, ia, &err), 0);
	assert_int_equal(kernel_routes("0.0.0.0/0", "10.73.0.1", ib, NULL), 1);
	assert_int_equal(kernel_routes("::/0", "fd73::1", ib, NULL), 1);
	assert_int_equal(netd_ifconf_apply(nl, ic, c, true, &err), 0);
	assert_int_equal(kernel_routes("0.0.0.0/0", "10.74.0.1", ic, &m), 1);
	assert_int_equal(m, 2);
	assert_int_equal(kernel_routes("::/0", "fd74::1", ic, &m), 1);
	assert_int_equal(m, 1026);
	assert_false(netd_err_isset(&err));
	cni_result_free(a);
	cni_result_free(b);
	cni_result_free(c);
}

/* isDefaultGateway on top of IPAM's own default route: one default route
 * per family, via the gateway, in the kernel and in the result. */
static void test_default_gateway_over_ipam_default(void **state)
{
	struct cni_result *ipam = ipam_net("10.75.0.5/24", "10.75.0.1", "fd75::5/64", "fd75::1");
	struct cni_ctx ctx = {.ifname = "ea", .netns = "/proc/self/ns/net"};
	struct netd_link l;
	int ix = new_link("ea");

	ipam_route(ipam, "0.0.0.0/0", NULL, 0);
	assert_int_equal(netd_ifconf_apply(nl, ix, ipam, true, &ctx.err), 0);
	assert_int_equal(kernel_routes("0.0.0.0/0", "10.75.0.1", ix, NULL), 1);
	assert_int_equal(kernel_routes("::/0", "fd75::1", ix, NULL), 1);
	assert_int_equal(netd_nl_link_get_index(nl, ix, &l, NULL), 0);
	assert_int_equal(netd_ifconf_result(&ctx, &l, ipam, true), 0);
	assert_int_equal(ctx.result->n_routes, 2);
	assert_int_equal(ctx.result->routes[0].dst.addr.family, AF_INET);
	assert_int_equal(ctx.result->routes[1].dst.addr.family, AF_INET6);
	cni_result_free(ctx.result);
	cni_result_free(ipam);
}

/* A route listed twice is one route; two that differ on one interface, or
 * at one asked metric on two, are a conflict with code 102 naming both. */
static void test_route_conflicts(void **state)
{
	struct cni_result *a = ipam_net("10.76.0.5/24", "10.76.0.1", "fd76::5/64", "fd76::1");
	struct cni_result *b = ipam_net("10.77.0.5/24", "10.77.0.1", "fd77::5/64", "fd77::1");
	struct cni_result *bad = ipam_net("10.78.0.5/24", "10.78.0.1", "fd78::5/64", "fd78::1");
	struct netd_err err = {0};
	int ia = new_link("ea"), ib = new_link("eb"), ic = new_link("ec"), m = -1;

	ipam_route(a, "10.200.0.0/16", NULL, 100);
	ipam_route(a, "10.200.0.0/16", "10.76.0.1", 100);
	ipam_route(a, "fd00:200::/48", "fd76::1", 0);
	ipam_route(a, "fd00:200::/48", NULL, 0);
	assert_int_equal(netd_ifconf_apply(nl, ia, a, false, &err), 0);
	assert_int_equal(kernel_routes("10.200.0.0/16", "10.76.0.1", ia, &m), 1);
	assert_int_equal(m, 100);
	assert_int_equal(kernel_routes("fd00:200::/48", "fd76::1", ia, NULL), 1);

	ipam_route(b, "10.200.0.0/16", NULL, 100);
	assert_int_equal(netd_ifconf_apply(nl, ib, b, false, &err), -EEXIST);
	assert_int_equal(err.code, NETD_ERR_IN_USE);
	assert_string_equal(err.msg, "route 10.200.0.0/16 via 10.77.0.1 dev eb metric 100 conflicts with "
				     "10.200.0.0/16 via 10.76.0.1 dev ea metric 100");
	assert_int_equal(kernel_routes("10.200.0.0/16", "10.77.0.1", ib, NULL), 0);

	memset(&err, 0, sizeof(err));
	ipam_route(bad, "0.0.0.0/0", "10.78.0.254", 0);
	ipam_route(bad, "0.0.0.0/0", NULL, 0);
	assert_int_equal(netd_ifconf_apply(nl, ic, bad, false, &err), -EEXIST);
	assert_int_equal(err.code, NETD_ERR_IN_USE);
	assert_string_equal(err.msg, "route default via 10.78.0.1 dev ec conflicts with default via 10.78.0.254 dev ec");
	cni_result_free(a);
	cni_result_free(b);
	cni_result_free(bad);
}

/* Each test in a fresh netns of its own, with eth0 (peer v0) up. */
static int setup(void **state)
{
	struct netd_veth_opts vo = {.host_name = "v0", .peer_name = "eth0", .peer_nsfd = -1};

	assert_int_equal(unshare(CLONE_NEWNET), 0);
	assert_int_equal(netd_nl_open(-1, &nl, NULL), 0);
	assert_int_equal(netd_nl_veth_create(nl, &vo, NULL), 0);
	assert_int_equal(netd_nl_link_get(nl, "eth0", &eth0, NULL), 0);
	assert_int_equal(netd_nl_link_set_up(nl, eth0.ifindex, true, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	netd_nl_free(nl);
	nl = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_result_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_error_names_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_without_gw_uses_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_networks_two_default_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_gateway_over_ipam_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_conflicts, setup, teardown),
	};

	int rc;

	if ((rc = netd_test_private_host("test_ifconf", NULL)) != 0)
		return rc;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
