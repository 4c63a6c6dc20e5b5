/* unit.h — what the C tests (tests/unit, bench/) share instead of copying:
 * a private host for tests that need root and a kernel, fresh network
 * namespaces, shell commands, prefixes, and timing for the benchmarks.
 *
 * A root test's main() starts with
 *     if ((rc = netd_test_private_host("test_x", (const char *[]){ "/run/netns", NULL })) != 0)
 *             return rc;
 * (77 = skipped: not root, or no namespaces), then runs its group. Such
 * tests carry the ctest label `root` (tests/CMakeLists.txt).
 * Include after <cmocka.h>.
 */
#ifndef NETD_TEST_UNIT_H
#define NETD_TEST_UNIT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netd/addr.h"

#define TEST_HELPER static __attribute__((unused))

/* Become a private host: own network namespace (lo up) and mount
 * namespace, with a fresh tmpfs on each of dirs (NULL-terminated, may be
 * NULL). 0, or 77 (skip) with a line saying why. */
TEST_HELPER int netd_test_private_host(const char *name, const char *const *dirs)
{
	if (geteuid() != 0) {
		printf("%s: needs root (network namespaces); skipped\n", name);
		return 77;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("%s: cannot make private namespaces (%s); skipped\n", name, strerror(errno));
		return 77;
	}
	for (; dirs && *dirs; dirs++) {
		mkdir(*dirs, 0755);
		if (mount("tmpfs", *dirs, "tmpfs", 0, "mode=0755") < 0) {
			printf("%s: cannot mount a private %s (%s); skipped\n", name, *dirs, strerror(errno));
			return 77;
		}
	}
	if (system("ip link set lo up >/dev/null 2>&1")) {
		/* not needed by every test */
	}
	return 0;
}

/* A new network namespace as an fd; the caller stays where it was. */
TEST_HELPER int netd_test_new_netns(void)
{
	int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd;

	assert_true(here >= 0);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(setns(here, CLONE_NEWNET), 0);
	close(here);
	return fd;
}

/* Run a shell command; the test fails if it does. */
TEST_HELPER void netd_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
TEST_HELPER void netd_test_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

/* "10.1.0.2/24" or "fd00::2/64" as a prefix (host bits kept). */
TEST_HELPER struct netd_prefix P(const char *s)
{
	struct netd_prefix p;

	memset(&p, 0, sizeof(p));
	assert_int_equal(netd_prefix_parse(s, &p), 0);
	return p;
}

/* "10.1.0.2" or "fd00::2" as an address. */
TEST_HELPER struct netd_addr A(const char *s)
{
	struct netd_addr a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(netd_addr_parse(s, &a), 0);
	return a;
}

/* ---- timing (bench/ only: unit tests assert no times) --------------------- */

TEST_HELPER double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

TEST_HELPER int netd_test_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v. */
TEST_HELPER double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), netd_test_cmp_double);
	return v[n / 2];
}

#endif
