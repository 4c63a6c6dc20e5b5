/* netns.c — open, enter and leave network namespaces. See netd/netns.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "netd/netns.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int netns_open(const char *path, struct netd_err *err)
{
	struct statfs sfs;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return netd_err_set(err, rc, CNI_ERR_INVALID_ENV, "netns %s does not exist", path);
		return netd_err_set(err, rc, CNI_ERR_INVALID_ENV, "open netns %s: %s", path, strerror(-rc));
	}
	/* A /run/netns/x whose bind mount is gone is a plain empty file: only
	 * the file system type tells it apart from a live namespace. */
	if (fstatfs(fd, &sfs) < 0 || (unsigned long)sfs.f_type != NSFS_MAGIC)
		goto notnet;
	rc = ioctl(fd, NS_GET_NSTYPE);
	if (rc >= 0 && rc != CLONE_NEWNET)
		goto notnet;
	/* NS_GET_NSTYPE is missing only on kernels < 4.11; nsfs alone then has to do. */
	return fd;
notnet:
	close(fd);
	return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_ENV, "%s is not a network namespace", path);
}

static int self_netns(struct netd_err *err)
{
	/* thread-self: setns acts on the calling thread, so remember that one. */
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return netd_err_set(err, -errno, NETD_ERR_INTERNAL, "open current netns: %s", strerror(errno));
	return fd;
}

static void go_back(int origfd)
{
	if (setns(origfd, CLONE_NEWNET) < 0) {
		/* Carrying on in the container's namespace would change the wrong
		 * network; there is no safe way to continue. */
		fprintf(stderr, "netd: cannot return to the original netns: %s\n", strerror(errno));
		abort();
	}
	close(origfd);
}

int netns_run(int nsfd, int (*fn)(void *arg), void *arg, struct netd_err *err)
{
	int origfd, rc;

	if (nsfd < 0)
		return fn(arg);
	origfd = self_netns(err);
	if (origfd < 0)
		return origfd;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		rc = -errno;
		close(origfd);
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "enter netns: %s", strerror(-rc));
	}
	rc = fn(arg);
	go_back(origfd);
	return rc;
}

struct socket_args {
	int domain, type, protocol;
};

static int socket_fn(void *p)
{
	struct socket_args *a = p;
	int fd = socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);

	return fd < 0 ? -errno : fd;
}

int netns_socket(int nsfd, int domain, int type, int protocol, struct netd_err *err)
{
	struct socket_args a = { domain, type, protocol };
	int rc;

	rc = netns_run(nsfd, socket_fn, &a, err);
	if (rc < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "socket in netns: %s", strerror(-rc));
	return rc;
}

struct sysctl_args {
	const char *key;
	const char *value;	/* NULL = read */
	char *buf;
	size_t len;
};

static int valid_key(const char *key)
{
	/* The key becomes a path under /proc/sys: no way out of it. */
	return key[0] && key[0] != '/' && !strstr(key, "..");
}

static int sysctl_fn(void *p)
{
	struct sysctl_args *a = p;
	char path[512];
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", a->key);
	/* Net sysctls are resolved against the opener's netns at open time, so
	 * only the open has to happen inside the namespace. */
	fd = open(path, (a->value ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (a->value) {
		size_t len = strlen(a->value);

		n = write(fd, a->value, len);
		if (n < 0)
			rc = -errno;
		else if ((size_t)n != len)
			rc = -EIO;
	} else {
		n = read(fd, a->buf, a->len - 1);
		if (n < 0) {
			rc = -errno;
		} else {
			a->buf[n] = 0;
			while (n > 0 && a->buf[n - 1] == '\n')
				a->buf[--n] = 0;
		}
	}
	close(fd);
	return rc;
}

int netns_sysctl_set(int nsfd, const char *key, const char *value, struct netd_err *err)
{
	struct sysctl_args a = { .key = key, .value = value };
	int rc;

	if (!valid_key(key))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "invalid sysctl key %s", key);
	rc = netns_run(nsfd, sysctl_fn, &a, err);
	if (rc < 0)
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "set sysctl %s=%s: %s", key, value, strerror(-rc));
	return 0;
}

int netns_sysctl_get(int nsfd, const char *key, char *buf, size_t len, struct netd_err *err)
{
	struct sysctl_args a = { .key = key, .buf = buf, .len = len };
	int rc;

	if (!valid_key(key) || len < 2)
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "invalid sysctl key %s", key);
	rc = netns_run(nsfd, sysctl_fn, &a, err);
	if (rc < 0)
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "read sysctl %s: %s", key, strerror(-rc));
	return 0;
}

int netns_ino(int nsfd, unsigned long long *ino)
{
	struct stat st;

	if (fstat(nsfd, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}
