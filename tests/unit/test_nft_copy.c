/* test_nft_copy.c — a copy of the plugins' tables put back after they were
 * deleted (nft_copy.h), checked against the kernel through the plugins' own
 * reads (masq_list, masq_has, macspoof_has) and the nft CLI.
 *
 * Needs root; runs in a private network + mount namespace. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "netd/nft.h"
#include "netd/nft_copy.h"
#include "unit.h"
#include "nft_fixture.h"

static int setup(void **state)
{
	drop_table();
	return 0;
}

static int has(const char *pfx, const char *o)
{
	struct netd_prefix p = P(pfx);
	struct netd_err err = {0};

	return netd_nft_masq_has(&p, o, &err);
}

static void test_flush_and_put_back(void **state)
{
	const char *a = owner("n1", "ctrA"), *b = owner("n1", "ctrB"), *c = owner("n2", "ctrC");
	struct netd_nft_elems copy = {0};
	struct netd_err err = {0};
	size_t restored = 99;
	char before[65536];

	assert_int_equal(add("10.88.0.2/24", a), 0);
	assert_int_equal(add("10.88.0.3/24", b), 0);
	assert_int_equal(add("fd00:88::2/64", c), 0);
	assert_int_equal(msp_add("vethA", MAC1, a), 0);
	assert_int_equal(netd_nft_copy_read(&copy, &err), 0);
	/* masq4 + masq4_local per IPv4 address, the same in IPv6, port + allow */
	assert_int_equal(copy.n, 2 + 2 + 2 + 2);
	snprintf(before, sizeof(before), "%s", nft_text());

	/* nothing missing: nothing sent */
	assert_int_equal(netd_nft_copy_restore(&copy, &restored, &err), 0);
	assert_int_equal(restored, 0);

	assert_int_equal(system("nft flush ruleset"), 0);
	assert_int_equal(has("10.88.0.2/24", a), 0);
	assert_int_equal(netd_nft_copy_restore(&copy, &restored, &err), 0);
	assert_int_equal(restored, copy.n);
	/* the same table as before, rules and owners included */
	assert_string_equal(nft_text(), before);
	assert_int_equal(has("10.88.0.2/24", a), 1);
	assert_int_equal(has("10.88.0.3/24", b), 1);
	assert_int_equal(has("fd00:88::2/64", c), 1);
	assert_int_equal(msp_has("vethA", MAC1, a), 1);
	/* the plugins' DEL finds its elements by their comments */
	assert_int_equal(del_masq(b, &err), 0);
	assert_int_equal(has("10.88.0.3/24", b), 0);
	assert_int_equal(list_count(), 2);
	assert_false(netd_err_isset(&err));
	free(copy.v);
}

static void test_only_what_is_missing(void **state)
{
	const char *a = owner("n1", "ctrA"), *b = owner("n1", "ctrB"), *reuse = owner("n1", "ctrR");
	struct netd_nft_elems copy = {0};
	struct netd_err err = {0};
	size_t restored = 0;

	assert_int_equal(add("10.88.0.2/24", a), 0);
	assert_int_equal(add("10.88.0.3/24", b), 0);
	assert_int_equal(netd_nft_copy_read(&copy, &err), 0);
	assert_int_equal(copy.n, 4);
	/* the table deleted, then a plugin's ADD (another container took .3)
	 * made it again before the copy is put back: the plugin's stays */
	assert_int_equal(system("nft delete table inet netd_cni"), 0);
	assert_int_equal(add("10.88.0.3/24", reuse), 0);
	assert_int_equal(netd_nft_copy_restore(&copy, &restored, &err), 0);
	assert_int_equal(restored, 2);	/* .2 in both sets */
	assert_int_equal(has("10.88.0.2/24", a), 1);
	assert_int_equal(has("10.88.0.3/24", reuse), 1);
	assert_string_equal(owner_of("10.88.0.3", NULL), reuse);
	assert_int_equal(list_count(), 2);

	/* a rule deleted, every element still there: the rules are repaired */
	assert_int_equal(system("nft flush chain inet netd_cni postrouting"), 0);
	assert_int_equal(has("10.88.0.2/24", a), 0);	/* rules not intact */
	assert_int_equal(netd_nft_copy_restore(&copy, &restored, &err), 0);
	assert_int_equal(restored, 0);
	assert_int_equal(has("10.88.0.2/24", a), 1);
	assert_int_equal(nft_counts().rules, 6);
	free(copy.v);
}

static void test_no_tables(void **state)
{
	struct netd_nft_elems copy = {0};
	struct netd_err err = {0};
	size_t restored = 9;

	assert_int_equal(netd_nft_copy_read(&copy, &err), 0);
	assert_int_equal(copy.n, 0);
	/* an empty copy makes no table */
	assert_int_equal(netd_nft_copy_restore(&copy, &restored, &err), 0);
	assert_int_equal(restored, 0);
	assert_int_equal(system("nft list table inet netd_cni >/dev/null 2>&1"), 256);
	free(copy.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_flush_and_put_back, setup),
		cmocka_unit_test_setup(test_only_what_is_missing, setup),
		cmocka_unit_test_setup(test_no_tables, setup),
	};
	static const char *const dirs[] = {"/run/netns", "/run/netd", NULL};
	int rc;

	if ((rc = netd_test_private_host("test_nft_copy", dirs)) != 0)
		return rc;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
