/* Names (one rule each, the same limits everywhere), mkdir -p, growing arrays. */
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

#include "netd/util.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = 0;
	return s;
}

static void test_name(void **state)
{
	char *at_max = repeat('a', NETD_NAME_MAX), *over = repeat('a', NETD_NAME_MAX + 1);

	assert_true(netd_name_valid("mynet"));
	assert_true(netd_name_valid("0a_b.c-d"));
	assert_true(netd_name_valid(at_max));
	assert_false(netd_name_valid(over));
	assert_false(netd_name_valid(NULL));
	assert_false(netd_name_valid(""));
	assert_false(netd_name_valid("-net"));
	assert_false(netd_name_valid(".net"));
	assert_false(netd_name_valid("_net"));
	assert_false(netd_name_valid("my net"));
	assert_false(netd_name_valid("my/net"));
	assert_false(netd_name_valid("my:net"));
	assert_false(netd_name_valid("n\xc3\xa9t")); /* letters are ASCII letters */
	free(at_max);
	free(over);
}

static void test_cid(void **state)
{
	char *at_max = repeat('f', NETD_CID_MAX), *over = repeat('f', NETD_CID_MAX + 1);
	char *name_over = repeat('f', NETD_NAME_MAX + 1);

	/* what runtimes use: 64 hex digits, and longer than any name */
	assert_true(netd_cid_valid("3f4e2b1c9d8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e"));
	assert_true(netd_cid_valid(name_over));
	assert_true(netd_cid_valid(at_max));
	assert_false(netd_cid_valid(over));
	assert_false(netd_cid_valid(""));
	assert_false(netd_cid_valid("_x"));
	assert_false(netd_cid_valid("a@b"));
	assert_false(netd_cid_valid("a\xff"));
	free(at_max);
	free(over);
	free(name_over);
}

static void test_ifname(void **state)
{
	assert_true(netd_ifname_valid("eth0"));
	assert_true(netd_ifname_valid("a"));
	assert_true(netd_ifname_valid("123456789012345")); /* 15 bytes */
	assert_true(netd_ifname_valid("br-x.100_y@z"));
	assert_true(netd_ifname_valid("n\xc3\xa9t")); /* UTF-8 is fine */
	assert_false(netd_ifname_valid("1234567890123456"));
	assert_false(netd_ifname_valid(NULL));
	assert_false(netd_ifname_valid(""));
	assert_false(netd_ifname_valid("."));
	assert_false(netd_ifname_valid(".."));
	assert_true(netd_ifname_valid("..."));
	assert_false(netd_ifname_valid("a/b"));
	assert_false(netd_ifname_valid("a:b"));
	assert_false(netd_ifname_valid("a b"));
	assert_false(netd_ifname_valid("a\tb"));
	assert_false(netd_ifname_valid("a\nb"));
	assert_false(netd_ifname_valid("a\x01"));
	assert_false(netd_ifname_valid("a\x7f"));
	assert_false(netd_ifname_valid("a\xff")); /* would not fit a JSON result */
}

static void test_utf8(void **state)
{
	static const struct { const char *s; bool ok; } cases[] = {
		{"", true},
		{"plain", true},
		{"\xc3\xa9", true},		/* é */
		{"\xe2\x82\xac", true},		/* € */
		{"\xf0\x9f\x98\x80", true},	/* U+1F600 */
		{"\xf4\x8f\xbf\xbf", true},	/* U+10FFFF */
		{"\xc3", false},		/* truncated */
		{"\xe2\x82", false},
		{"\xc0\xaf", false},		/* overlong '/' */
		{"\xe0\x80\xaf", false},	/* overlong */
		{"\xed\xa0\x80", false},	/* surrogate */
		{"\xf4\x90\x80\x80", false},	/* above U+10FFFF */
		{"\xf5\x80\x80\x80", false},
		{"\x80", false},		/* lone continuation */
		{"a\xc3(", false},
		{"\xff", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (netd_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("case %zu: expected %s", i, cases[i].ok ? "valid" : "invalid");
	}
	/* the length bounds the check: a prefix ending before a bad byte is valid */
	assert_true(netd_utf8_valid("ab\xff", 2));
}

static void test_mkdir_p(void **state)
{
	char base[] = "/tmp/netd-test-util-XXXXXX", path[512], file[512];
	struct stat st;

	assert_non_null(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/a//b/c", base);
	assert_int_equal(netd_mkdir_p(path, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700 & ~umask(022));
	snprintf(file, sizeof(file), "%s/a", base);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755 & ~umask(022));
	/* again: an existing directory is fine */
	assert_int_equal(netd_mkdir_p(path, 0700), 0);
	/* a file in the way is not a directory */
	snprintf(file, sizeof(file), "%s/f", base);
	fclose(fopen(file, "w"));
	assert_int_equal(netd_mkdir_p(file, 0700), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/f/x", base);
	assert_int_equal(netd_mkdir_p(path, 0700), -ENOTDIR);
	assert_int_equal(netd_mkdir_p("", 0700), -EINVAL);

	snprintf(path, sizeof(path), "rm -rf %s", base);
	assert_int_equal(system(path), 0);
}

static void test_grow(void **state)
{
	int *v = NULL, *nv;
	size_t n = 0, cap = 0, caps[5];

	for (int i = 0; i < 5; i++) {
		nv = netd_grow(v, &cap, n, sizeof(*v), 2);
		assert_non_null(nv);
		v = nv;
		v[n++] = i * 10;
		caps[i] = cap;
	}
	assert_int_equal(caps[0], 2);
	assert_int_equal(caps[1], 2);
	assert_int_equal(caps[2], 4);
	assert_int_equal(caps[3], 4);
	assert_int_equal(caps[4], 8);
	for (int i = 0; i < 5; i++)
		assert_int_equal(v[i], i * 10);
	/* a size that does not fit size_t: refused, the array left as it was */
	cap = SIZE_MAX / 4;
	assert_null(netd_grow(v, &cap, cap, 4, 2));
	assert_int_equal(cap, SIZE_MAX / 4);
	assert_int_equal(v[4], 40);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_cid),
		cmocka_unit_test(test_ifname),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_grow),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
