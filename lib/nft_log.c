/* nft_log.c — the plugins' record of their changes, for netd (nft_log.h).
 *
 * Why files under the plugins' lock rather than a message to netd: netd may
 * not be running, and a plugin must work without it; the lock already
 * orders every change to the tables, so a record written inside it is in
 * the same order as the changes themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>

#include "netd/nft_log.h"
#include "netd/nft_owner.h"
#include "netd/nft_table.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define RUN_DIR "/run/netd"

bool netd_nft_log_wants(const struct netd_nft_table *t)
{
	return (t->family == NFPROTO_INET || t->family == NFPROTO_BRIDGE) && !strcmp(t->name, NETD_NFT_CNI_TABLE);
}

int netd_nft_log_files(struct netd_nft_conn *c, struct netd_nft_log_files *f)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	struct stat st;

	/* a cookie is never reused within a boot; an inode number (older
	 * kernels) is, once its namespace is gone */
	if (getsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0) {
		if (stat("/proc/self/ns/net", &st) < 0)
			return -errno;
		cookie = (uint64_t)st.st_ino;
	}
	snprintf(f->copy, sizeof(f->copy), RUN_DIR "/nft-%" PRIu64 ".copy", cookie);
	snprintf(f->log, sizeof(f->log), RUN_DIR "/nft-%" PRIu64 ".log", cookie);
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int append(struct netd_nft_conn *c, const char *buf, size_t len, struct netd_err *err)
{
	struct netd_nft_log_files f;
	struct stat st;
	int fd, rc;

	if (!len)
		return 0;
	if ((rc = netd_nft_log_files(c, &f)) < 0)
		return netd_err_set(err, rc, CNI_ERR_IO, "nftables: naming the record for netd: %s", strerror(-rc));
	if (access(f.copy, F_OK) < 0)
		return 0;	/* netd has not run here: nobody to tell */
	fd = open(f.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		return netd_err_set(err, rc, CNI_ERR_IO, "nftables: opening %s: %s", f.log, strerror(-rc));
	}
	if (fstat(fd, &st) == 0 && (size_t)st.st_size + len > NETD_NFT_LOG_MAX) {
		/* netd has been away for long: end the record rather than grow
		 * without bound (netd starts again from the tables) */
		close(fd);
		unlink(f.copy);
		unlink(f.log);
		return 0;
	}
	rc = write_all(fd, buf, len);
	close(fd);
	if (rc < 0)
		return netd_err_set(err, rc, CNI_ERR_IO, "nftables: writing %s: %s", f.log, strerror(-rc));
	return 0;
}

int netd_nft_log_append(struct netd_nft_conn *c, const void *msgs, size_t len, struct netd_err *err)
{
	const struct nlmsghdr *nlh;
	char *out;
	size_t n = 0;
	int left = (int)len, rc;

	if (!(out = malloc(len ? len : 1)))
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	for (nlh = msgs; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
		    (type != NFT_MSG_NEWSETELEM && type != NFT_MSG_DELSETELEM))
			continue;
		memcpy(out + n, nlh, NLMSG_ALIGN(nlh->nlmsg_len));
		n += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	rc = append(c, out, n, err);
	free(out);
	return rc;
}

int netd_nft_log_gone(struct netd_nft_conn *c, const char *owner, unsigned tables, struct netd_err *err)
{
	char buf[NLMSG_HDRLEN + NLMSG_ALIGN(65)] = {0};
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	size_t n = strlen(owner) + 1;

	if (n > 65)
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	nlh->nlmsg_type = NETD_NFT_LOG_GONE;
	nlh->nlmsg_flags = (uint16_t)tables;
	nlh->nlmsg_len = (uint32_t)(NLMSG_HDRLEN + n);
	memcpy(buf + NLMSG_HDRLEN, owner, n);
	return append(c, buf, NLMSG_ALIGN(nlh->nlmsg_len), err);
}

int netd_nft_log_gc(struct netd_nft_conn *c, const struct netd_nft_gc *g, struct netd_err *err)
{
	size_t len = NLMSG_HDRLEN + sizeof(g->prefix);
	struct nlmsghdr *nlh;
	char *buf, *p;
	int rc;

	for (size_t i = 0; i < g->n; i++)
		len += g->keep[i] ? strlen(g->keep[i]) + 1 : 0;
	if (len > UINT32_MAX / 2)
		return netd_err_set(err, -E2BIG, CNI_ERR_INVALID_CONFIG, "nftables: gc: too many attachments");
	if (!(buf = calloc(1, NLMSG_ALIGN(len))))
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "nftables: out of memory");
	nlh = (struct nlmsghdr *)buf;
	nlh->nlmsg_type = NETD_NFT_LOG_GC;
	nlh->nlmsg_flags = (uint16_t)g->tables;
	nlh->nlmsg_len = (uint32_t)len;
	p = buf + NLMSG_HDRLEN;
	memcpy(p, g->prefix, sizeof(g->prefix));
	p += sizeof(g->prefix);
	for (size_t i = 0; i < g->n; i++) {
		if (!g->keep[i])
			continue;
		memcpy(p, g->keep[i], strlen(g->keep[i]) + 1);
		p += strlen(g->keep[i]) + 1;
	}
	rc = append(c, buf, NLMSG_ALIGN(len), err);
	free(buf);
	return rc;
}

int netd_nft_log_read(const char *path, size_t off, char **buf, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t n = 0;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((size_t)st.st_size > off) {
		size_t want = (size_t)st.st_size - off;

		if (!(p = malloc(want))) {
			rc = -ENOMEM;
			goto out;
		}
		while (n < want) {
			ssize_t r = pread(fd, p + n, want - n, (off_t)(off + n));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = -errno;
				goto out;
			}
			if (r == 0)
				break;
			n += (size_t)r;
		}
	}
out:
	close(fd);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*buf = p;
	*len = n;
	return 0;
}

int netd_nft_log_commit(const struct netd_nft_log_files *f, const void *copy, size_t len, struct netd_err *err)
{
	char tmp[80];
	int fd, rc;

	if (mkdir(RUN_DIR, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: creating %s: %s", RUN_DIR, strerror(-rc));
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->copy);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		rc = -errno;
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: opening %s: %s", tmp, strerror(-rc));
	}
	rc = write_all(fd, copy, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* the copy first, the log after: a crash in between leaves records the
	 * new copy already holds, and replaying them again changes nothing */
	if (rc == 0 && rename(tmp, f->copy) < 0)
		rc = -errno;
	if (rc == 0 && truncate(f->log, 0) < 0 && errno != ENOENT)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: writing %s: %s", f->copy, strerror(-rc));
	}
	return 0;
}
