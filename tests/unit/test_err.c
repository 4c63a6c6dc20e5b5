/* Errors: first wins, context prefixes, DEL/GC collection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netd/err.h"

static void test_first_wins_and_prefix(void **state)
{
	struct netd_err e = {0};

	assert_int_equal(netd_err_set(&e, -ENODEV, NETD_ERR_KERNEL, "link %s missing", "eth0"), -ENODEV);
	assert_int_equal(netd_err_set(&e, -EIO, CNI_ERR_IO, "vaguer"), -EIO);
	assert_string_equal(e.msg, "link eth0 missing");
	assert_int_equal(e.code, NETD_ERR_KERNEL);
	netd_err_prefix(&e, CNI_ERR_IO, "bridge %s", "br0");
	assert_string_equal(e.msg, "bridge br0: link eth0 missing");
	assert_int_equal(e.code, NETD_ERR_KERNEL); /* code kept */
	netd_err_details(&e, "ext-ack: %d", 7);
	assert_string_equal(e.details, "ext-ack: 7");
	assert_int_equal(netd_err_set(NULL, -EINVAL, 7, "x"), -EINVAL);
	netd_err_prefix(NULL, 7, "x");
}

static void test_invalid(void **state)
{
	struct netd_err e = {0};

	assert_int_equal(netd_err_invalid(&e, "field '%s' must be a string", "name"), -EINVAL);
	assert_int_equal(e.code, CNI_ERR_INVALID_CONFIG);
	assert_string_equal(e.msg, "field 'name' must be a string");
	assert_int_equal(netd_err_invalid(&e, "later"), -EINVAL);
	assert_string_equal(e.msg, "field 'name' must be a string"); /* first wins here too */
	assert_int_equal(netd_err_invalid(NULL, "x"), -EINVAL);
}

static void test_collect(void **state)
{
	struct netd_err first = {0}, e = {0};

	/* nothing failed */
	assert_int_equal(netd_err_collected(&first, &e), 0);
	netd_err_set(&e, -EIO, CNI_ERR_IO, "step 1");
	netd_err_collect(&first, &e);
	assert_false(netd_err_isset(&e)); /* cleared for step 2 */
	netd_err_set(&e, -EIO, NETD_ERR_KERNEL, "step 2");
	netd_err_collect(&first, &e);
	assert_int_equal(netd_err_collected(&first, &e), -EIO);
	assert_string_equal(e.msg, "step 1");
	assert_int_equal(e.code, CNI_ERR_IO);
}

/* Messages end up in JSON: bytes that are not UTF-8 become '?', the rest stays. */
static void test_utf8_only(void **state)
{
	struct netd_err e = {0};

	netd_err_set(&e, -EINVAL, CNI_ERR_INVALID_ENV, "id '%s' is bad", "a\xff\xfe\xc3\xa9" "b\xe2\x82");
	assert_string_equal(e.msg, "id 'a?" "?\xc3\xa9" "b?" "?' is bad");
	netd_err_prefix(&e, 0, "ns \x80");
	assert_string_equal(e.msg, "ns ?: id 'a?" "?\xc3\xa9" "b?" "?' is bad");
	netd_err_details(&e, "\xc0\xaf");
	assert_string_equal(e.details, "?" "?");
}

/* One meaning for the code; the daemon's HTTP status is derived from it. */
static void test_http_status(void **state)
{
	assert_int_equal(netd_err_http_status(CNI_ERR_INVALID_CONFIG), 400);
	assert_int_equal(netd_err_http_status(CNI_ERR_DECODE), 400);
	assert_int_equal(netd_err_http_status(CNI_ERR_INVALID_ENV), 400);
	assert_int_equal(netd_err_http_status(NETD_ERR_NOT_FOUND), 404);
	assert_int_equal(netd_err_http_status(CNI_ERR_UNKNOWN_CONTAINER), 404);
	assert_int_equal(netd_err_http_status(NETD_ERR_IN_USE), 409);
	assert_int_equal(netd_err_http_status(CNI_ERR_TRY_LATER), 503);
	assert_int_equal(netd_err_http_status(CNI_ERR_IO), 500);
	assert_int_equal(netd_err_http_status(NETD_ERR_INTERNAL), 500);
	assert_int_equal(netd_err_http_status(0), 500);
	assert_int_equal(netd_err_http_status(404), 500); /* a status is not a code */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_wins_and_prefix),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_collect),
		cmocka_unit_test(test_utf8_only),
		cmocka_unit_test(test_http_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
