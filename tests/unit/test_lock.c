/* Named locks: exclusive between processes, released on close or exit,
 * time out with code 11. No privileges: the directory is one of our own. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/lock.h"

static char dir[] = "/tmp/netd-test-lock-XXXXXX";
static char sub[64];

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/a/b", dir); /* created on first use */
	return 0;
}

/* Does another process get `name` within timeout_ms? Its exit status says. */
static int other_gets(const char *name, int timeout_ms)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd = netd_lock_acquire(sub, name, timeout_ms, NULL);

		_exit(fd >= 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_exclusive_and_released(void **state)
{
	struct netd_err err = {0};
	int fd = netd_lock_acquire(sub, "br0", 100, &err);

	assert_true(fd >= 0);
	assert_false(other_gets("br0", 30));
	assert_true(other_gets("br1", 30)); /* another name is another lock */
	netd_lock_release(fd);
	assert_true(other_gets("br0", 30));
}

static void test_timeout_is_try_later(void **state)
{
	struct netd_err err = {0};
	int fd = netd_lock_acquire(sub, "busy", 100, NULL);
	pid_t pid;
	int status;

	assert_true(fd >= 0);
	pid = fork();
	if (pid == 0) {
		struct netd_err e = {0};
		int rc = netd_lock_acquire(sub, "busy", 20, &e);

		_exit(rc == -ETIMEDOUT && e.code == CNI_ERR_TRY_LATER && strstr(e.msg, "busy.lock") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	netd_lock_release(fd);
	assert_int_equal(netd_lock_acquire(sub, "a/b", 10, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'/'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusive_and_released),
		cmocka_unit_test(test_timeout_is_try_later),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
