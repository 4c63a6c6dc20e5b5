/* nft_conn.c — netfilter netlink socket, request/ack exchange, the host-wide
 * lock, and the socket's release (inline, or in a detached grandchild when
 * the program opted in). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <linux/netlink.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>

#include "netd/nft_conn.h"

#define RECV_BUF (64 * 1024)
#define RELEASE_QUIET_NS 60000000LL	/* > an RCU grace period, normally */
#define RELEASE_LINGER_MAX_NS 500000000LL
#define RELEASE_WINDOW_NS 250000000LL

static bool release_in_background;

void netd_nft_release_in_background(bool on)
{
	release_in_background = on;
}

int netd_nft_conn_open(struct netd_nft_conn *c, struct netd_err *err)
{
	struct timeval tv = { .tv_sec = 10 };
	int one = 1, rc;

	memset(c, 0, sizeof(*c));
	c->rbuf = malloc(RECV_BUF);
	c->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!c->rbuf || !c->nl) {
		rc = -errno;
		netd_nft_conn_close(c);
		return netd_err_set(err, rc ? rc : -ENOMEM, NETD_ERR_KERNEL,
				    "nftables: cannot open netfilter netlink socket: %s", strerror(rc ? -rc : ENOMEM));
	}
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		netd_nft_conn_close(c);
		return netd_err_set(err, rc, NETD_ERR_KERNEL, "nftables: cannot bind netlink socket: %s",
				    strerror(-rc));
	}
	/* Best effort: older kernels lack extended acks, errors still arrive. */
	mnl_socket_setsockopt(c->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(c->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->portid = mnl_socket_get_portid(c->nl);
	c->seq = (uint32_t)time(NULL);
	return 0;
}

void netd_nft_conn_close(struct netd_nft_conn *c)
{
	if (c->nl)
		mnl_socket_close(c->nl);
	free(c->rbuf);
	c->nl = NULL;
	c->rbuf = NULL;
}

/* ---- release in the background -------------------------------------------
 *
 * Why: once a transaction has deleted anything (an element, a rule), the
 * release of ANY bound netfilter socket in that netns waits for the kernel's
 * deferred destruction of the deleted objects, i.e. an RCU grace period
 * (10-16 ms on the test VM): nf_tables' NETLINK_URELEASE notifier flushes
 * that work. It does not depend on the socket having dumped, on NLM_F_ACK,
 * on multicast groups (we join none), on using a second socket for the batch
 * (closing either waits the same), nor on how the batch is cut; the deletion
 * itself is committed and acked in ~0.1 ms, and the same socket closed 30 ms
 * later closes in microseconds.
 *
 * So after such a batch has been acked (the change is committed), the last
 * reference to the socket goes to a grandchild that holds nothing else
 * (stdout above all: a CNI runtime reads it to EOF), waits until we have
 * dropped our reference, lingers until deletions are quiet and exits: any
 * wait happens there, where nobody waits for it. Double fork: the grandchild
 * is re-parented to init, never a zombie of ours; the intermediate child
 * exits at once and we reap it. Cost ~0.4 ms (two forks); if forking fails we
 * pay the wait here. Since a clean socket waits just the same while anyone's
 * deletion is still pending, netd_nft_locked() also detaches the release of
 * a clean socket when the lock file says a deletion happened within
 * RELEASE_WINDOW_NS. */

static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a, fd, max;

	if ((lo == 0 || close_range(0, (unsigned)lo - 1, 0) == 0) &&
	    (hi == lo + 1 || close_range((unsigned)lo + 1, (unsigned)hi - 1, 0) == 0) &&
	    close_range((unsigned)hi + 1, ~0U, 0) == 0)
		return;
	max = (int)sysconf(_SC_OPEN_MAX);
	for (fd = 0; fd < (max > 0 ? max : 1024); fd++)
		if (fd != a && fd != b)
			close(fd);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Grandchild: wait until nobody has deleted anything for RELEASE_QUIET_NS
 * (so the kernel's destroy work is done and our release neither waits nor
 * holds nf_tables' commit mutex, which would stall the next transaction in
 * this netns), at most RELEASE_LINGER_MAX_NS. The lock file is opened anew:
 * the inherited descriptor shares the caller's flock and must not live on.
 * Lingering grandchildren read the time without the lock (a torn read only
 * changes how long one waits). */
static void linger_until_quiet(void)
{
	int64_t start = mono_ns(), t, now;
	int fd = open(NETD_NFT_LOCK, O_RDONLY | O_CLOEXEC);

	for (;;) {
		now = mono_ns();
		if (fd < 0 || pread(fd, &t, sizeof(t), 0) != (ssize_t)sizeof(t))
			t = start;
		if (now - t >= RELEASE_QUIET_NS || now - start >= RELEASE_LINGER_MAX_NS)
			break;
		usleep((useconds_t)((t + RELEASE_QUIET_NS - now) / 1000 + 1));
	}
	if (fd >= 0)
		close(fd);
}

static void release_detached(struct netd_nft_conn *c)
{
	int sk = mnl_socket_get_fd(c->nl), p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		goto inline_close;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		goto inline_close;
	}
	if (pid == 0) {
		char ch;

		/* Closed here, before the second fork: we wait for this
		 * process, so when we return no descendant holds our stdout
		 * (however late the grandchild gets scheduled). */
		close_all_but(sk, p[0]);
		if (fork() != 0)
			_exit(0);
		/* EOF once our write end is gone */
		while (read(p[0], &ch, 1) < 0 && errno == EINTR)
			;
		linger_until_quiet();
		_exit(0);	/* the last reference to the socket goes here */
	}
	close(p[0]);
	netd_nft_conn_close(c);	/* not the last reference: returns at once */
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return;
inline_close:
	netd_nft_conn_close(c);
}

/* ---- exchange ------------------------------------------------------------ */

static void parse_ack(const struct nlmsghdr *nlh, struct netd_nft_wait *w)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t off;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) || e->error == 0 || w->error)
		return;
	w->error = e->error;
	w->error_seq = nlh->nlmsg_seq;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	off = NLMSG_ALIGN(off);
	if (NLMSG_HDRLEN + off >= nlh->nlmsg_len)
		return;
	mnl_attr_for_each_payload((const void *)((const char *)e + off), nlh->nlmsg_len - NLMSG_HDRLEN - off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(w->ext, sizeof(w->ext), "%s", mnl_attr_get_str(attr));
	}
}

int netd_nft_conn_wait(struct netd_nft_conn *c, struct netd_nft_wait *w)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(c->nl, c->rbuf, RECV_BUF);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)c->rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_pid && nlh->nlmsg_pid != c->portid)
				continue;
			if (nlh->nlmsg_seq < w->seq_lo || nlh->nlmsg_seq > w->seq_last)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				w->intr = true;
			if (nlh->nlmsg_type == NLMSG_DONE && w->dump)
				return 0;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				parse_ack(nlh, w);
				if (w->dump || nlh->nlmsg_seq == w->seq_last ||
				    (e->error && nlh->nlmsg_seq == w->seq_lo))
					return 0;
				continue;
			}
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (w->cb && w->cb(nlh, w->data) < 0)
				w->error = w->error ? w->error : -ENOMEM;
		}
	}
}

int netd_nft_conn_ask(struct netd_nft_conn *c, const struct nlmsghdr *nlh, struct netd_nft_wait *w)
{
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return netd_nft_conn_wait(c, w);
}

/* ---- lock ---------------------------------------------------------------- */

static int lock_take(struct netd_err *err)
{
	int fd, rc;

	if (mkdir("/run/netd", 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		return netd_err_set(err, rc, CNI_ERR_IO, "nftables: creating /run/netd: %s", strerror(-rc));
	}
	fd = open(NETD_NFT_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		return netd_err_set(err, rc, CNI_ERR_IO, "nftables: opening %s: %s", NETD_NFT_LOCK,
				    strerror(-rc));
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			close(fd);
			return netd_err_set(err, rc, CNI_ERR_IO, "nftables: locking %s: %s", NETD_NFT_LOCK,
					    strerror(-rc));
		}
	}
	return fd;
}

static bool deleted_recently(int lock)
{
	int64_t t;

	return pread(lock, &t, sizeof(t), 0) == (ssize_t)sizeof(t) && mono_ns() - t < RELEASE_WINDOW_NS;
}

static void note_deletion(int lock)
{
	int64_t t = mono_ns();

	if (pwrite(lock, &t, sizeof(t), 0) != (ssize_t)sizeof(t)) {
		/* only an optimisation is lost */
	}
}

/* The lock goes before the connection: it is not needed for the release,
 * and a grandchild must never inherit it (if it were scheduled late, the
 * flock would outlive our close). */
int netd_nft_locked(netd_nft_op op, void *arg, struct netd_err *err)
{
	struct netd_nft_conn c;
	int lock, rc;
	bool detach = false;

	if ((lock = lock_take(err)) < 0)
		return lock;
	if ((rc = netd_nft_conn_open(&c, err)) == 0) {
		rc = op(&c, arg, err);
		detach = release_in_background && (c.deleted || deleted_recently(lock));
		if (c.deleted)
			note_deletion(lock);
	}
	close(lock);
	if (detach)
		release_detached(&c);
	else
		netd_nft_conn_close(&c);
	return rc;
}
