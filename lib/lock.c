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
#include "netd/util.h"

int netd_lock_acquire(const char *dir, const char *name, int timeout_ms, struct netd_err *err)
{
	char path[PATH_MAX];
	int fd, rc;

	if (!dir || !*dir)
		dir = NETD_LOCK_DIR;
	if (strchr(name, '/'))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "lock name '%s' has a '/'", name);
	snprintf(path, sizeof(path), "%s/%s.lock", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		if ((rc = netd_mkdir_p(dir, 0755)) < 0)
			return netd_err_set(err, rc, CNI_ERR_IO, "lock directory %s: %s", dir, strerror(-rc));
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	}
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
