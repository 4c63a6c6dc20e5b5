/* test_nft_log.c — the plugins' record of their changes (nft_log.h) and
 * netd's copy kept from it (netd_nft_copy_sync, nft_copy.h): what a DEL
 * removed never comes back, not even a DEL that found its table gone or
 * one done while netd was away; what an ADD made does.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "netd/nft.h"
#include "netd/nft_copy.h"
#include "netd/nft_log.h"
#include "unit.h"
#include "nft_fixture.h"

static struct netd_nft_log_files files(void)
{
	struct netd_nft_log_files f;
	struct netd_nft_conn c;
	struct netd_err err = {0};

	assert_int_equal(netd_nft_conn_open(&c, &err), 0);
	assert_int_equal(netd_nft_log_files(&c, &f), 0);
	netd_nft_conn_close(&c);
	return f;
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : st.st_size;
}

static int setup(void **state)
{
	struct netd_nft_log_files f = files();

	drop_table();
	unlink(f.copy);
	unlink(f.log);
	return 0;
}

static size_t sync_k(struct netd_nft_copy *k, bool restore)
{
	struct netd_err err = {0};
	size_t restored = 99;

	assert_int_equal(netd_nft_copy_sync(k, restore, &restored, &err), 0);
	assert_false(netd_err_isset(&err));
	return restored;
}

static int has(const char *pfx, const char *o)
{
	struct netd_prefix p = P(pfx);
	struct netd_err err = {0};

	return netd_nft_masq_has(&p, o, &err);
}

static void test_no_netd_no_record(void **state)
{
	struct netd_nft_log_files f = files();
	struct netd_err err = {0};

	/* netd never ran here: the plugins write nothing */
	assert_int_equal(add("10.88.0.2/24", owner("n1", "a")), 0);
	assert_int_equal(del_masq(owner("n1", "a"), &err), 0);
	assert_int_equal(size_of(f.copy), -1);
	assert_int_equal(size_of(f.log), -1);
}

static void test_del_while_table_gone(void **state)
{
	const char *a = owner("n1", "a"), *b = owner("n1", "b"), *c = owner("n1", "c");
	struct netd_nft_log_files f = files();
	struct netd_nft_copy k = {0};
	struct netd_err err = {0};

	assert_int_equal(add("10.88.0.2/24", a), 0);
	assert_int_equal(msp_add("vethA", MAC1, a), 0);
	/* netd starts: its copy is what the tables hold, and the record starts */
	assert_int_equal(sync_k(&k, false), 0);
	assert_int_equal(k.elems.n, 4);
	assert_true(size_of(f.copy) > 0);
	/* an ADD after it is recorded, and in the copy at the next look */
	assert_int_equal(add("10.88.0.3/24", b), 0);
	assert_int_equal(msp_add("vethB", MAC2, b), 0);
	assert_true(size_of(f.log) > 0);
	sync_k(&k, false);
	assert_int_equal(k.elems.n, 8);

	/* both tables gone; b's DEL finds nothing to remove, c's ADD makes the
	 * masquerade table again */
	drop_table();
	assert_int_equal(del_masq(b, &err), 0);
	assert_int_equal(del_msp(b, &err), 0);
	assert_int_equal(add("10.88.0.4/24", c), 0);
	/* put back: a's, never b's; c's is there already */
	assert_int_equal(sync_k(&k, true), 4);
	assert_int_equal(has("10.88.0.2/24", a), 1);
	assert_int_equal(msp_has("vethA", MAC1, a), 1);
	assert_int_equal(has("10.88.0.3/24", b), 0);
	assert_int_equal(msp_has("vethB", MAC2, b), 0);
	assert_int_equal(has("10.88.0.4/24", c), 1);
	assert_int_equal(list_count(), 2);
	assert_int_equal(msp_counts().ifaces, 1);
	assert_int_equal(k.elems.n, 6);
	/* looking again changes nothing */
	assert_int_equal(sync_k(&k, true), 0);
	free(k.elems.v);
}

static void test_netd_away(void **state)
{
	const char *a = owner("n1", "a"), *b = owner("n1", "b"), *c = owner("n1", "c"), *r = owner("n1", "r");
	struct netd_nft_copy k = {0}, k2 = {0};
	struct netd_err err = {0};

	assert_int_equal(add("10.88.0.2/24", a), 0);
	assert_int_equal(add("10.88.0.3/24", b), 0);
	assert_int_equal(add("10.88.0.5/24", r), 0);
	sync_k(&k, false);
	free(k.elems.v);
	/* netd stopped. Meanwhile: c added, .5 taken over by another owner
	 * (the address reused), the tables flushed, b's DEL finds nothing */
	assert_int_equal(add("10.88.0.4/24", c), 0);
	assert_int_equal(add("10.88.0.5/24", a), 0);
	assert_int_equal(system("nft flush ruleset"), 0);
	assert_int_equal(del_masq(b, &err), 0);
	/* netd starts again: copy file and log say what the plugins made */
	assert_int_equal(sync_k(&k2, true), 6);
	assert_int_equal(has("10.88.0.2/24", a), 1);
	assert_int_equal(has("10.88.0.4/24", c), 1);
	assert_string_equal(owner_of("10.88.0.5", NULL), a);
	assert_int_equal(has("10.88.0.3/24", b), 0);
	assert_int_equal(list_count(), 3);
	free(k2.elems.v);
}

static void test_gone_names_its_tables(void **state)
{
	const char *a = owner("n1", "a");
	struct netd_nft_copy k = {0};
	struct netd_err err = {0};

	assert_int_equal(add("10.88.0.2/24", a), 0);
	assert_int_equal(msp_add("vethA", MAC1, a), 0);
	sync_k(&k, false);
	drop_table();
	/* a DEL for masquerade alone keeps the owner's macspoofchk guard */
	assert_int_equal(del_masq(a, &err), 0);
	assert_int_equal(sync_k(&k, true), 2);
	assert_int_equal(msp_has("vethA", MAC1, a), 1);
	assert_int_equal(has("10.88.0.2/24", a), 0);
	free(k.elems.v);
}

static void test_gc_while_table_gone(void **state)
{
	const char *a = owner("n1", "a"), *b = owner("n1", "b"), *c = owner("n2", "c");
	const char *keep[] = {a};
	struct netd_nft_copy k = {0};
	struct netd_err err = {0};

	assert_int_equal(add("10.88.0.2/24", a), 0);
	assert_int_equal(add("10.88.0.3/24", b), 0);
	assert_int_equal(add("10.89.0.2/24", c), 0);
	assert_int_equal(msp_add("vethB", MAC2, b), 0);
	sync_k(&k, false);
	drop_table();
	/* n1's GC keeps a: b's masquerade stays away, n2's c comes back, and
	 * b's guard too (the GC was masquerade's) */
	assert_int_equal(netd_nft_masq_gc("n1", keep, 1, &err), 0);
	assert_int_equal(sync_k(&k, true), 6);
	assert_int_equal(has("10.88.0.2/24", a), 1);
	assert_int_equal(has("10.89.0.2/24", c), 1);
	assert_int_equal(has("10.88.0.3/24", b), 0);
	assert_int_equal(msp_has("vethB", MAC2, b), 1);
	/* and macspoofchk's GC with nothing kept */
	drop_table();
	assert_int_equal(netd_nft_macspoof_gc("n1", NULL, 0, &err), 0);
	assert_int_equal(sync_k(&k, true), 4);
	assert_int_equal(msp_counts().ifaces, 0);
	assert_int_equal(list_count(), 2);
	free(k.elems.v);
}

static void test_record_ends_when_too_long(void **state)
{
	const char *a = owner("n1", "a"), *b = owner("n1", "b");
	struct netd_nft_log_files f = files();
	struct netd_nft_copy k = {0};
	FILE *log;

	assert_int_equal(add("10.88.0.2/24", a), 0);
	sync_k(&k, false);
	/* a log as long as netd ever lets it grow: the next change ends the
	 * record rather than growing it */
	assert_non_null(log = fopen(f.log, "a"));
	fclose(log);
	assert_int_equal(truncate(f.log, NETD_NFT_LOG_MAX), 0);
	assert_int_equal(add("10.88.0.3/24", b), 0);
	assert_int_equal(size_of(f.copy), -1);
	assert_int_equal(size_of(f.log), -1);
	/* netd starts over from the tables */
	sync_k(&k, false);
	assert_int_equal(k.elems.n, 4);
	assert_true(size_of(f.copy) > 0);
	free(k.elems.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_netd_no_record, setup),
		cmocka_unit_test_setup(test_del_while_table_gone, setup),
		cmocka_unit_test_setup(test_netd_away, setup),
		cmocka_unit_test_setup(test_gone_names_its_tables, setup),
		cmocka_unit_test_setup(test_gc_while_table_gone, setup),
		cmocka_unit_test_setup(test_record_ends_when_too_long, setup),
	};
	static const char *const dirs[] = {"/run/netns", "/run/netd", NULL};
	int rc;

	if ((rc = netd_test_private_host("test_nft_log", dirs)) != 0)
		return rc;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
