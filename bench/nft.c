/* bench/nft.c — what the plugins' nftables calls cost with 1,000 containers
 * in the tables, and that the cost stays flat as the tables fill (a per-call
 * full listing would grow with the element count).
 *
 * Root; run it in a private host:
 *     tests/harness/isolate build/bench/netd-nft-bench
 * It prints medians in microseconds and fails when the last 100 adds cost
 * more than 3x the first 100 (+ 300 us). Not part of ctest: timings belong
 * here, not in unit tests that run under ASan on a loaded machine.
 *
 * NETD_NFT_BENCH_RECORD=1: as on a host where netd runs, each call also
 * appends to netd's record (nft_log.h); netd itself does not run, so the
 * log is never folded and only grows, the worst case for the plugins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netd/nft_copy.h"
#include "netd/nft_log.h"
#include "unit.h"
#include "nft_fixture.h"

static int setup(void **state)
{
	const char *rec = getenv("NETD_NFT_BENCH_RECORD");

	drop_table();
	if (rec && !strcmp(rec, "1")) {
		/* what netd does at its start: the copy file starts the record */
		struct netd_nft_copy k = {0};
		struct netd_err err = {0};
		size_t restored;

		assert_int_equal(netd_nft_copy_sync(&k, false, &restored, &err), 0);
		free(k.elems.v);
	}
	return 0;
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
		assert_int_equal(del_masq(owner("bench", id), &err), 0);
		dn[i] = now_us() - t0;
	}
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(del_masq(owner("bench", id), &err), 0);
		d[i] = now_us() - t0;
	}
	for (i = 20; i < 40; i++) {
		struct netd_addr a;

		snprintf(pfx, sizeof(pfx), "10.100.%d.%d/16", i / 250, i % 250 + 2);
		a = P(pfx).addr;
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(del_masq_addr(&a, owner("bench", id), &err), 0);
		da[i - 20] = now_us() - t0;
	}
	/* spaced like a plugin's DELs (the veth deletion alone takes ~20 ms) */
	for (i = 40; i < 60; i++) {
		usleep(30000);
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(del_masq(owner("bench", id), &err), 0);
		ds[i - 40] = now_us() - t0;
	}
	for (i = 60; i < 80; i++) {
		struct netd_addr a;

		usleep(30000);
		snprintf(pfx, sizeof(pfx), "10.100.%d.%d/16", i / 250, i % 250 + 2);
		a = P(pfx).addr;
		snprintf(id, sizeof(id), "c%d", i);
		t0 = now_us();
		assert_int_equal(del_masq_addr(&a, owner("bench", id), &err), 0);
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
		assert_int_equal(del_msp(owner("mbench", id), &err), 0);
		d[i] = now_us() - t0;
	}
	for (i = 20; i < 40; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(ifn, sizeof(ifn), "veth%05d", i);
		usleep(30000);
		t0 = now_us();
		assert_int_equal(del_msp_if(ifn, owner("mbench", id), &err), 0);
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
		cmocka_unit_test_setup(test_cost_flat_at_1000, setup),
		cmocka_unit_test_setup(test_macspoof_cost_at_1000, setup),
	};
	static const char *const dirs[] = { "/run/netns", "/run/netd", NULL };
	int rc;

	if ((rc = netd_test_private_host("netd-nft-bench", dirs)) != 0)
		return rc;
	/* as the plugin runs it */
	netd_nft_release_in_background(true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
