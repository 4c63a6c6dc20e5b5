/* netns.h — network namespaces: open one, run a function inside it and come
 * back, open a socket that lives in it.
 *
 * All netd binaries are single-threaded, so switching the calling thread with
 * setns(2) is safe; netns_run() always switches back (and aborts the process if
 * it cannot, since continuing in the wrong namespace would be worse).
 */
#ifndef NETD_NETNS_H
#define NETD_NETNS_H

#include "netd/err.h"

/* Open a netns by path (/run/netns/x, /proc/PID/ns/net). Returns an fd
 * (O_CLOEXEC) or -errno; a path that does not exist is -ENOENT and a path that
 * is not a network namespace is -EINVAL, both with a message naming the path. */
int netns_open(const char *path, struct netd_err *err);

/* Run fn(arg) inside the netns `nsfd`, then return to the current one.
 * Returns fn's return value, or -errno if entering failed. nsfd -1 = run it
 * right here. Only the calling thread switches. */
int netns_run(int nsfd, int (*fn)(void *arg), void *arg, struct netd_err *err);

/* socket(2) created inside the netns (-1 = current); the socket keeps that
 * namespace for its life. SOCK_CLOEXEC is added. */
int netns_socket(int nsfd, int domain, int type, int protocol, struct netd_err *err);

/* Write `value` to /proc/sys/<key> as seen from netns nsfd (-1 = current);
 * key like "net/ipv4/ip_forward" or "net/ipv6/conf/eth0/disable_ipv6". */
int netns_sysctl_set(int nsfd, const char *key, const char *value, struct netd_err *err);
/* Read it (trailing newline stripped). Keys with ".." or a leading "/" are
 * -EINVAL. Only open() happens inside the netns: /proc/sys/net is resolved
 * against the opener's netns. */
int netns_sysctl_get(int nsfd, const char *key, char *buf, size_t len, struct netd_err *err);

/* Inode number identifying a netns (st_ino of its fd), for "is it the same". */
int netns_ino(int nsfd, unsigned long long *ino);

#endif
