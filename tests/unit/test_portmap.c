/* portmap: netdctl's -p specs expand to the mappings a user means, bad specs
 * are refused whole with a message naming them, and overlap follows the host
 * address rules (unspecified and wildcard cover their families). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netd/portmap.h"

static void test_single_and_proto(void **state)
{
	struct netd_portmap *v = NULL;
	size_t n = 0;
	struct netd_err err = {0};
	char buf[NETD_PORTMAP_STRLEN];

	(void)state;
	assert_int_equal(netd_portspec_parse("8080:80", &v, &n, &err), 0);
	assert_int_equal(netd_portspec_parse("5353:53/udp", &v, &n, &err), 0);
	assert_int_equal(netd_portspec_parse("127.0.0.1:9000:9/sctp", &v, &n, &err), 0);
	assert_int_equal(netd_portspec_parse("[fd00::1]:443:8443", &v, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(netd_portmap_str(&v[0], buf), "*:8080->80/tcp");
	assert_string_equal(netd_portmap_str(&v[1], buf), "*:5353->53/udp");
	assert_string_equal(netd_portmap_str(&v[2], buf), "127.0.0.1:9000->9/sctp");
	assert_string_equal(netd_portmap_str(&v[3], buf), "[fd00::1]:443->8443/tcp");
	assert_int_equal(v[3].host_ip.family, AF_INET6);
	free(v);
}

static void test_ranges_expand(void **state)
{
	struct netd_portmap *v = NULL;
	size_t n = 0;
	struct netd_err err = {0};

	(void)state;
	assert_int_equal(netd_portspec_parse("8000-8010:80-90", &v, &n, &err), 0);
	assert_int_equal(n, 11);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].host_port, 8000 + i);
		assert_int_equal(v[i].container_port, 80 + i);
	}
	assert_int_equal(netd_portspec_parse("65535:1", &v, &n, &err), 0);
	assert_int_equal(n, 12);
	free(v);
}

static void refused(const char *spec, const char *needle)
{
	struct netd_portmap *v = NULL;
	size_t n = 0;
	struct netd_err err = {0};

	assert_int_equal(netd_portspec_parse(spec, &v, &n, &err), -EINVAL);
	assert_int_equal(n, 0);
	assert_null(v);
	if (!strstr(err.msg, needle) || !strstr(err.msg, spec))
		fail_msg("'%s': message '%s' lacks '%s'", spec, err.msg, needle);
}

static void test_bad_specs(void **state)
{
	(void)state;
	refused("0:80", "1-65535");
	refused("8080:65536", "1-65535");
	refused("70000:80", "1-65535");
	refused("8080:80/icmp", "unknown protocol");
	refused("8000-8010:80-85", "must match");
	refused("8010-8000:80-90", "1-65535");
	refused("8080", "HOST:CONTAINER");
	refused("1.2.3:8080:80", "not an IPv4");
	refused("[1.2.3.4]:8080:80", "not an IPv6");
	refused("::1:8080:80", "not an IPv4");
	refused("a:b", "1-65535");
	refused("8080-:80", "1-65535");
}

static struct netd_portmap pm(const char *ip, uint16_t port, uint8_t proto)
{
	struct netd_portmap m = {.host_port = port, .container_port = 80, .proto = proto};

	if (ip)
		assert_int_equal(netd_addr_parse(ip, &m.host_ip), 0);
	return m;
}

static void test_overlap(void **state)
{
	struct netd_portmap any = pm(NULL, 80, IPPROTO_TCP), v4any = pm("0.0.0.0", 80, IPPROTO_TCP),
			    lo = pm("127.0.0.1", 80, IPPROTO_TCP), lo2 = pm("127.0.0.2", 80, IPPROTO_TCP),
			    v6 = pm("fd00::1", 80, IPPROTO_TCP), v6any = pm("::", 80, IPPROTO_TCP),
			    udp = pm(NULL, 80, IPPROTO_UDP), other = pm(NULL, 81, IPPROTO_TCP);

	(void)state;
	assert_true(netd_portmap_overlap(&any, &lo));
	assert_true(netd_portmap_overlap(&any, &v6));
	assert_true(netd_portmap_overlap(&v4any, &lo));
	assert_true(netd_portmap_overlap(&lo, &lo));
	assert_true(netd_portmap_overlap(&v6any, &v6));
	assert_false(netd_portmap_overlap(&lo, &lo2));
	assert_false(netd_portmap_overlap(&v4any, &v6));
	assert_false(netd_portmap_overlap(&v4any, &v6any));
	assert_false(netd_portmap_overlap(&any, &udp));
	assert_false(netd_portmap_overlap(&any, &other));
	assert_true(netd_portmap_has_family(&any, AF_INET6));
	assert_false(netd_portmap_has_family(&lo, AF_INET6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_and_proto),
		cmocka_unit_test(test_ranges_expand),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_overlap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
