/* Addresses, prefixes, MACs: parsing, formatting, arithmetic. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netd/addr.h"
#include "unit.h"

static void test_parse(void **state)
{
	struct netd_addr a;
	struct netd_prefix p;
	char buf[NETD_PREFIX_STRLEN];

	assert_int_equal(A("10.1.2.3").family, AF_INET);
	assert_int_equal(A("fd00::1").family, AF_INET6);
	assert_int_equal(netd_addr_parse("10.1.2", &a), -EINVAL);
	assert_int_equal(netd_addr_parse("10.1.2.3/24", &a), -EINVAL);
	assert_int_equal(netd_addr_parse("", &a), -EINVAL);
	assert_int_equal(netd_addr_parse(NULL, &a), -EINVAL);
	assert_int_equal(netd_addr_parse("fe80::1%eth0", &a), -EINVAL);

	p = P("10.1.2.3/24");
	assert_int_equal(p.len, 24);
	assert_string_equal(netd_prefix_str(&p, buf), "10.1.2.3/24"); /* host bits kept */
	assert_string_equal(netd_prefix_str(&(struct netd_prefix){netd_prefix_network(&p).addr, 24}, buf), "10.1.2.0/24");
	const char *bad[] = {"10.1.2.3", "10.1.2.3/", "10.1.2.3/33", "10.1.2.3/-1", "10.1.2.3/+8", "10.1.2.3/8x",
			     "::/129", "x/8", "10.1.2.3/ 8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netd_prefix_parse(bad[i], &p), -EINVAL);
	assert_int_equal(P("::/0").len, 0);
	assert_int_equal(P("fd00::/128").len, 128);
}

static void test_contains_overlaps(void **state)
{
	struct netd_prefix n = P("10.88.0.0/16");
	struct netd_addr a = A("10.88.255.255"), b = A("10.89.0.0"), v6 = A("fd00::1");

	assert_true(netd_prefix_contains(&n, &a));
	assert_false(netd_prefix_contains(&n, &b));
	assert_false(netd_prefix_contains(&n, &v6));
	assert_true(netd_prefix_overlaps(&n, &(struct netd_prefix){A("10.88.4.0"), 24}));
	assert_true(netd_prefix_overlaps(&(struct netd_prefix){A("10.0.0.0"), 8}, &n));
	assert_false(netd_prefix_overlaps(&n, &(struct netd_prefix){A("10.90.0.0"), 16}));
	assert_true(netd_prefix_contains(&(struct netd_prefix){A("0.0.0.0"), 0}, &b));
}

static void test_first_last_add(void **state)
{
	struct netd_prefix n = P("10.88.1.77/24");
	struct netd_addr x, first = netd_prefix_first(&n), last = netd_prefix_last(&n);
	char buf[NETD_ADDR_STRLEN];

	assert_string_equal(netd_addr_str(&first, buf), "10.88.1.0");
	assert_string_equal(netd_addr_str(&last, buf), "10.88.1.255");
	assert_int_equal(netd_addr_add(&last, 1, &x), 0);
	assert_string_equal(netd_addr_str(&x, buf), "10.88.2.0");
	assert_int_equal(netd_addr_add(&first, -1, &x), 0);
	assert_string_equal(netd_addr_str(&x, buf), "10.88.0.255");
	assert_int_equal(netd_addr_add(&(struct netd_addr){0}, 1, &x), -EINVAL);
	x = A("255.255.255.255");
	assert_int_equal(netd_addr_add(&x, 1, &x), -ERANGE);
	x = A("0.0.0.0");
	assert_int_equal(netd_addr_add(&x, -1, &x), -ERANGE);
	x = A("fd00::ffff:ffff");
	assert_int_equal(netd_addr_add(&x, 2, &x), 0);
	assert_string_equal(netd_addr_str(&x, buf), "fd00::1:0:1");
	assert_true(netd_addr_cmp(&first, &last) < 0);
	assert_true(netd_addr_is_zero(&(struct netd_addr){.family = AF_INET6}));
	assert_false(netd_addr_eq(&first, &last));
}

static void test_mac(void **state)
{
	uint8_t m[6];
	char buf[18];

	assert_int_equal(netd_mac_parse("02:42:AC:11:00:02", m), 0);
	assert_string_equal(netd_mac_str(m, buf), "02:42:ac:11:00:02");
	assert_int_equal(netd_mac_parse("02-42-ac-11-00-02", m), 0);
	assert_int_equal(netd_mac_parse("02:42:ac:11:00", m), -EINVAL);
	assert_int_equal(netd_mac_parse("02:42:ac:11:00:0g", m), -EINVAL);
	assert_int_equal(netd_mac_parse("02:42:ac:11:00:022", m), -EINVAL);
	assert_int_equal(netd_mac_parse("0242.ac11.0002..", m), -EINVAL);
	assert_int_equal(netd_mac_parse(NULL, m), -EINVAL);
}

/* Stable per host and name, different across hosts and names, always a
 * unicast locally administered MAC. */
static void test_mac_derive(void **state)
{
	const char *hosts[] = { "3d1219c7c4c5404aaa1f6d2a48adfda4", "3d1219c7c4c5404aaa1f6d2a48adfda5", "" };
	const char *names[] = { "cni0", "cni1", "nd-web", "podman1", "nd-web0" };
	uint8_t seen[15][6], again[6], m[6];
	char a[18], b[18];
	size_t k = 0;

	(void)state;
	for (size_t h = 0; h < 3; h++)
		for (size_t n = 0; n < 5; n++) {
			netd_mac_derive(hosts[h], names[n], seen[k]);
			assert_int_equal(seen[k][0] & 3, 2);
			netd_mac_derive(hosts[h], names[n], again);
			assert_memory_equal(seen[k], again, 6);
			for (size_t j = 0; j < k; j++)
				if (!memcmp(seen[j], seen[k], 6))
					fail_msg("%s and %s collide", netd_mac_str(seen[j], a), netd_mac_str(seen[k], b));
			k++;
		}
	/* the host id and name are not just glued together */
	netd_mac_derive("ab", "c", m);
	netd_mac_derive("a", "bc", again);
	assert_memory_not_equal(m, again, 6);
	netd_mac_for_host("cni0", m);
	assert_int_equal(m[0] & 3, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_contains_overlaps),
		cmocka_unit_test(test_first_last_add),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_mac_derive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
