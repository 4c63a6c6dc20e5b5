/* test_netns.c — netns_open/run/socket/sysctl against real namespaces.
 * Runs in a private netns + mount ns of its own (root only, else skip 77). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "netd/netns.h"
#include "unit.h"

static unsigned long long ino_of_path(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static unsigned long long ino_of_fd(int fd)
{
	unsigned long long ino = 0;

	assert_int_equal(netns_ino(fd, &ino), 0);
	return ino;
}

static void test_open_missing(void **state)
{
	struct netd_err err = {0};

	(void)state;
	assert_int_equal(netns_open("/run/netns/does-not-exist", &err), -ENOENT);
	assert_string_equal(err.msg, "netns /run/netns/does-not-exist does not exist");
	assert_int_not_equal(err.code, 0);
}

static void test_open_not_a_netns(void **state)
{
	struct netd_err err = {0}, err2 = {0};
	char path[] = "/tmp/netd-test-netns-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(netns_open(path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "is not a network namespace"));
	unlink(path);
	/* an nsfs file, but the wrong kind of namespace */
	assert_int_equal(netns_open("/proc/self/ns/uts", &err2), -EINVAL);
	assert_string_equal(err2.msg, "/proc/self/ns/uts is not a network namespace");
}

static void test_open_proc_and_named(void **state)
{
	struct netd_err err = {0};
	int fd, ns, f;

	(void)state;
	fd = netns_open("/proc/self/ns/net", &err);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(ino_of_fd(fd), ino_of_path("/proc/self/ns/net"));
	close(fd);

	/* A named netns the way `ip netns add` makes one: a bind mount. */
	ns = netd_test_new_netns();
	f = open("/run/netns/ct1", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(f >= 0);
	close(f);
	char src[64];
	snprintf(src, sizeof(src), "/proc/self/fd/%d", ns);
	assert_int_equal(mount(src, "/run/netns/ct1", NULL, MS_BIND, NULL), 0);
	fd = netns_open("/run/netns/ct1", &err);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), ino_of_fd(ns));
	assert_int_not_equal(ino_of_fd(fd), ino_of_path("/proc/self/ns/net"));
	close(fd);
	/* After `ip netns del` races: the file is left, the mount is gone. */
	assert_int_equal(umount("/run/netns/ct1"), 0);
	assert_int_equal(netns_open("/run/netns/ct1", &err), -EINVAL);
	assert_string_equal(err.msg, "/run/netns/ct1 is not a network namespace");
	unlink("/run/netns/ct1");
	close(ns);
}

static int where_am_i(void *arg)
{
	*(unsigned long long *)arg = ino_of_path("/proc/thread-self/ns/net");
	return 42;
}

static void test_run_enters_and_returns(void **state)
{
	unsigned long long here = ino_of_path("/proc/self/ns/net"), seen = 0;
	struct netd_err err = {0};
	int ns = netd_test_new_netns();

	(void)state;
	assert_int_equal(netns_run(ns, where_am_i, &seen, &err), 42);
	assert_int_equal(seen, ino_of_fd(ns));
	assert_int_equal(ino_of_path("/proc/self/ns/net"), here);
	/* -1: run right here */
	assert_int_equal(netns_run(-1, where_am_i, &seen, &err), 42);
	assert_int_equal(seen, here);
	/* not a netns fd: refused, and we stay put */
	int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	assert_true(netns_run(fd, where_am_i, &seen, &err) < 0);
	assert_true(netd_err_isset(&err));
	assert_int_equal(ino_of_path("/proc/self/ns/net"), here);
	close(fd);
	close(ns);
}

static void test_socket_lives_in_netns(void **state)
{
	struct netd_err err = {0};
	int ns = netd_test_new_netns(), s, sns;

	(void)state;
	s = netns_socket(ns, AF_INET, SOCK_DGRAM, 0, &err);
	assert_true(s >= 0);
	assert_true(fcntl(s, F_GETFD) & FD_CLOEXEC);
	/* SIOCGSKNS: the kernel's own answer to "which netns is this socket in" */
	sns = ioctl(s, SIOCGSKNS);
	assert_true(sns >= 0);
	assert_int_equal(ino_of_fd(sns), ino_of_fd(ns));
	assert_int_equal(ino_of_path("/proc/self/ns/net") != ino_of_fd(ns), 1);
	close(sns);
	close(s);
	close(ns);
}

static void test_sysctl_per_netns(void **state)
{
	struct netd_err err = {0};
	char here[16], there[16];
	int ns = netd_test_new_netns();

	(void)state;
	assert_int_equal(netns_sysctl_get(-1, "net/ipv4/ip_forward", here, sizeof(here), &err), 0);
	assert_string_equal(here, "0");	/* fresh netns default */
	assert_int_equal(netns_sysctl_set(ns, "net/ipv4/ip_forward", "1", &err), 0);
	assert_int_equal(netns_sysctl_get(ns, "net/ipv4/ip_forward", there, sizeof(there), &err), 0);
	assert_string_equal(there, "1");
	/* the namespace we run in is untouched */
	assert_int_equal(netns_sysctl_get(-1, "net/ipv4/ip_forward", here, sizeof(here), &err), 0);
	assert_string_equal(here, "0");
	/* and back to 0 over there */
	assert_int_equal(netns_sysctl_set(ns, "net/ipv4/ip_forward", "0", &err), 0);
	assert_int_equal(netns_sysctl_get(ns, "net/ipv4/ip_forward", there, sizeof(there), &err), 0);
	assert_string_equal(there, "0");
	assert_false(netd_err_isset(&err));
	close(ns);
}

static void test_sysctl_errors(void **state)
{
	struct netd_err e1 = {0}, e2 = {0}, e3 = {0};
	char buf[16];

	(void)state;
	assert_int_equal(netns_sysctl_get(-1, "net/ipv4/../../../etc/passwd", buf, sizeof(buf), &e1),
			 -EINVAL);
	assert_non_null(strstr(e1.msg, "invalid sysctl key"));
	assert_int_equal(netns_sysctl_set(-1, "net/ipv4/conf/nosuchif/forwarding", "1", &e2), -ENOENT);
	assert_non_null(strstr(e2.msg, "net/ipv4/conf/nosuchif/forwarding"));
	assert_int_equal(e2.code, 100);
	/* a value the kernel refuses */
	assert_true(netns_sysctl_set(-1, "net/ipv4/ip_forward", "banana", &e3) < 0);
	assert_non_null(strstr(e3.msg, "ip_forward=banana"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_missing),
		cmocka_unit_test(test_open_not_a_netns),
		cmocka_unit_test(test_open_proc_and_named),
		cmocka_unit_test(test_run_enters_and_returns),
		cmocka_unit_test(test_socket_lives_in_netns),
		cmocka_unit_test(test_sysctl_per_netns),
		cmocka_unit_test(test_sysctl_errors),
	};

	static const char *const dirs[] = { "/run/netns", NULL };
	int rc;

	if ((rc = netd_test_private_host("test_netns", dirs)) != 0)
		return rc;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
