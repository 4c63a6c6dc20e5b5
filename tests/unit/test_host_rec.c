/* host_rec: netd-host's saved-device record, as alias and as state file. */
#include <errno.h>
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

#include "netd/host_rec.h"
#include "unit.h"

static struct netd_host_rec sample(void)
{
	struct netd_host_rec r = {.orig = "enp3s0", .mac = {0x02, 0xab, 0x00, 0x10, 0xfe, 0x01}, .mtu = 9000,
				  .up = true, .cid = "c0ffee", .ifname = "net1"};

	return r;
}

/* What both copies carry. */
static void assert_same_device(const struct netd_host_rec *got, const struct netd_host_rec *want)
{
	assert_string_equal(got->orig, want->orig);
	assert_memory_equal(got->mac, want->mac, 6);
	assert_int_equal(got->mtu, want->mtu);
	assert_int_equal(got->up, want->up);
	assert_string_equal(got->cid, want->cid);
	assert_string_equal(got->ifname, want->ifname);
}

static void test_alias_round_trip(void **state)
{
	struct netd_host_rec r = sample(), back;
	char alias[NETD_HOST_REC_ALIAS_MAX];

	netd_host_rec_alias(&r, alias);
	assert_string_equal(alias, "netd-host:enp3s0:02ab0010fe01:9000:up:net1:c0ffee");
	assert_true(netd_host_rec_from_alias(alias, &back));
	assert_same_device(&back, &r);
	assert_string_equal(back.alias, "");

	/* down, and the device's own alias riding at the end, colons and all */
	r.up = false;
	snprintf(r.alias, sizeof(r.alias), "uplink: rack 4");
	netd_host_rec_alias(&r, alias);
	assert_string_equal(alias, "netd-host:enp3s0:02ab0010fe01:9000:down:net1:c0ffee:uplink: rack 4");
	assert_true(netd_host_rec_from_alias(alias, &back));
	assert_false(back.up);
	assert_string_equal(back.alias, "uplink: rack 4");
}

/* An own alias that does not fit is left out; the record still parses. */
static void test_alias_too_long_own_alias(void **state)
{
	struct netd_host_rec r = sample(), back;
	char alias[NETD_HOST_REC_ALIAS_MAX];

	memset(r.alias, 'x', sizeof(r.alias) - 1);
	r.alias[sizeof(r.alias) - 1] = 0;
	netd_host_rec_alias(&r, alias);
	assert_string_equal(alias, "netd-host:enp3s0:02ab0010fe01:9000:up:net1:c0ffee");
	assert_true(netd_host_rec_from_alias(alias, &back));
	assert_string_equal(back.alias, "");
}

static void test_alias_not_ours(void **state)
{
	struct netd_host_rec r = sample();
	static const char *const bad[] = {
		"",
		"uplink",
		"netd-host:",
		"netd-bridge:enp3s0:02ab0010fe01:9000:up:net1:c0ffee",
		"netd-host:enp3s0:02ab0010fe0:9000:up:net1:c0ffee",		/* 11 hex digits */
		"netd-host:enp3s0:02AB0010FE01:9000:up:net1:c0ffee",		/* upper case: not ours */
		"netd-host:enp3s0:02ab0010fe01:mtu:up:net1:c0ffee",
		"netd-host:enp3s0:02ab0010fe01:9000:sideways:net1:c0ffee",
		"netd-host:enp3s0:02ab0010fe01:9000:on:net1:c0ffee",
		"netd-host:enp3s0:02ab0010fe01:9000:up:net1",			/* no container */
		"netd-host:a-name-of-17-chars:02ab0010fe01:9000:up:net1:c0ffee",
		"netd-host:enp3s0:02ab0010fe01:9000:up:an-ifname-17-char:c0ffee",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct netd_host_rec out = {.mtu = -1};

		if (netd_host_rec_from_alias(bad[i], &out))
			fail_msg("'%s' parsed as a record", bad[i]);
		assert_int_equal(out.mtu, -1); /* untouched */
	}
	(void)r;
}

static void test_alias_is(void **state)
{
	struct netd_host_rec r = sample();
	char alias[NETD_HOST_REC_ALIAS_MAX];

	netd_host_rec_alias(&r, alias);
	assert_true(netd_host_rec_alias_is(alias, "c0ffee", "net1"));
	assert_false(netd_host_rec_alias_is(alias, "c0ffee", "net2"));
	assert_false(netd_host_rec_alias_is(alias, "c0ffe", "net1"));
	assert_false(netd_host_rec_alias_is("uplink", "c0ffee", "net1"));
}

/* ---- the state file ---- */

static int dir_setup(void **state)
{
	char *tmpl = strdup("/tmp/test_host_rec.XXXXXX");

	if (!tmpl || !mkdtemp(tmpl))
		return -1;
	*state = tmpl;
	return 0;
}

static int dir_teardown(void **state)
{
	netd_test_sh("rm -rf '%s'", (char *)*state);
	free(*state);
	return 0;
}

/* A file in dir with text (no single quotes in it). */
static void put(const char *dir, const char *name, const char *text)
{
	netd_test_sh("printf '%%s' '%s' > '%s/%s'", text, dir, name);
}

static void test_file_round_trip(void **state)
{
	const char *top = *state;
	char dir[256], path[512];
	struct netd_host_rec r = sample(), back;
	struct netd_err err = {0};
	struct stat st;

	/* the directory is made on the first save, for root only */
	snprintf(dir, sizeof(dir), "%s/var/lib/netd/host", top);
	snprintf(r.netns, sizeof(r.netns), "/run/netns/c0ffee");
	snprintf(r.network, sizeof(r.network), "lan");
	snprintf(r.alias, sizeof(r.alias), "uplink: rack 4");
	r.ifindex = 17;
	assert_int_equal(netd_host_rec_save(dir, &r, &err), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/c0ffee@net1", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/c0ffee@net1.tmp", dir);
	assert_int_not_equal(access(path, F_OK), 0);

	memset(&back, 0xa5, sizeof(back));
	assert_int_equal(netd_host_rec_load(dir, "c0ffee", "net1", &back), 0);
	assert_same_device(&back, &r);
	assert_string_equal(back.netns, "/run/netns/c0ffee");
	assert_string_equal(back.network, "lan");
	assert_string_equal(back.alias, "uplink: rack 4");
	assert_int_equal(back.ifindex, 17);

	/* saving again replaces it */
	r.mtu = 1500;
	assert_int_equal(netd_host_rec_save(dir, &r, &err), 0);
	assert_int_equal(netd_host_rec_load(dir, "c0ffee", "net1", &back), 0);
	assert_int_equal(back.mtu, 1500);

	netd_host_rec_remove(dir, "c0ffee", "net1");
	assert_int_equal(netd_host_rec_load(dir, "c0ffee", "net1", &back), -ENOENT);
	netd_host_rec_remove(dir, "c0ffee", "net1"); /* gone already: nothing to do */
}

static void test_file_not_a_record(void **state)
{
	const char *dir = *state;
	struct netd_host_rec back;

	assert_int_equal(netd_host_rec_load(dir, "none", "eth0", &back), -ENOENT);
	put(dir, "c1@eth0", "{\"device\":");
	assert_int_equal(netd_host_rec_load(dir, "c1", "eth0", &back), -EINVAL);
	/* no mac, then a mac that does not parse, then a name too long */
	put(dir, "c2@eth0", "{\"device\":\"eno1\",\"alias\":\"\",\"containerID\":\"c2\",\"ifname\":\"eth0\","
			    "\"netns\":\"/x\",\"network\":\"n\",\"mtu\":1500,\"up\":true,\"ifindex\":3}");
	assert_int_equal(netd_host_rec_load(dir, "c2", "eth0", &back), -EINVAL);
	put(dir, "c3@eth0", "{\"device\":\"eno1\",\"mac\":\"zz\",\"alias\":\"\",\"containerID\":\"c3\","
			    "\"ifname\":\"eth0\",\"netns\":\"/x\",\"network\":\"n\"}");
	assert_int_equal(netd_host_rec_load(dir, "c3", "eth0", &back), -EINVAL);
	put(dir, "c4@eth0", "{\"device\":\"a-name-of-17-chars\",\"mac\":\"02:00:00:00:00:01\",\"alias\":\"\","
			    "\"containerID\":\"c4\",\"ifname\":\"eth0\",\"netns\":\"/x\",\"network\":\"n\"}");
	assert_int_equal(netd_host_rec_load(dir, "c4", "eth0", &back), -EINVAL);
}

static int by_cid(const void *a, const void *b)
{
	return strcmp(((const struct netd_host_rec *)a)->cid, ((const struct netd_host_rec *)b)->cid);
}

/* GC's view: every record, nothing else in the directory. */
static void test_list(void **state)
{
	const char *dir = *state;
	struct netd_host_rec r = sample(), *all = NULL;
	struct netd_err err = {0};
	char missing[256];
	size_t n = 99;

	snprintf(missing, sizeof(missing), "%s/nothing-here", dir);
	assert_int_equal(netd_host_rec_list(missing, &all, &n), 0);
	assert_int_equal(n, 0);
	assert_null(all);

	for (int i = 0; i < 12; i++) {
		snprintf(r.cid, sizeof(r.cid), "c%02d.tmpx", i); /* '.tmp' inside an id is still an id */
		r.ifindex = i;
		assert_int_equal(netd_host_rec_save(dir, &r, &err), 0);
	}
	put(dir, "c99@eth0.tmp", "{}");		/* a write in progress */
	put(dir, "README", "not a record");
	put(dir, "c98@eth0", "garbage");		/* unreadable: skipped */
	assert_int_equal(netd_host_rec_list(dir, &all, &n), 0);
	assert_int_equal(n, 12);
	qsort(all, n, sizeof(*all), by_cid);
	for (size_t i = 0; i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "c%02zu.tmpx", i);
		assert_string_equal(all[i].cid, want);
		assert_int_equal(all[i].ifindex, (int)i);
	}
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alias_round_trip),
		cmocka_unit_test(test_alias_too_long_own_alias),
		cmocka_unit_test(test_alias_not_ours),
		cmocka_unit_test(test_alias_is),
		cmocka_unit_test_setup_teardown(test_file_round_trip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_file_not_a_record, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_list, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
