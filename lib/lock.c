#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netd/lock.h"

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int netd_lock_acquire(const char *name, int timeout_ms, struct netd_err *err)
{
	const char *dir = getenv("NETD_LOCK_DIR");
	char path[PATH_MAX];
	int fd, rc;

	if (!dir || !*dir)
		dir = NETD_LOCK_DIR;
	if (strchr(name, '/'))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "lock name '%s' has a '/'", name);
	snprintf(path, sizeof(path), "%s/%s.lock", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT && (rc = mkdir_p(dir)) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "lock %s: %s", path, strerror(errno));
	/* Poll with a short sleep: flock has no timeout and an alarm would
	 * disturb the caller's signal handling. Uncontended, the first try wins. */
	for (int waited = 0;; waited++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = -errno;
			close(fd);
			return netd_err_set(err, rc, CNI_ERR_IO, "lock %s: %s", path, strerror(-rc));
		}
		if (waited * 1 >= timeout_ms) {
			close(fd);
			return netd_err_set(err, -ETIMEDOUT, CNI_ERR_TRY_LATER,
					    "lock %s is held by another process for more than %d ms", path, timeout_ms);
		}
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
}

void netd_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
