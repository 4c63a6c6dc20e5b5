/* state_compact.c — compaction: a new journal, then a forked child writes
 * the snapshot of the state at that instant from its copy-on-write memory;
 * the loop's housekeeping (batch fdatasync, reaping, when to compact). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "netd/addr.h"
#include "state_int.h"

/* Buffered writer for snapshots: no allocation (it runs in the forked child). */
struct wbuf {
	int fd, err;
	size_t len;
	char b[64 * 1024];
};

static void wb_flush(struct wbuf *w)
{
	size_t off = 0;

	while (!w->err && off < w->len) {
		ssize_t n = write(w->fd, w->b + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->err = n < 0 ? errno : EIO;
		else
			off += n;
	}
	w->len = 0;
}

static void wb_put(struct wbuf *w, const char *p, size_t n)
{
	while (n) {
		size_t k = sizeof(w->b) - w->len;

		if (!k) {
			wb_flush(w);
			continue;
		}
		if (k > n)
			k = n;
		memcpy(w->b + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
	}
}

static void wb_record(struct wbuf *w, char op, const char *payload, size_t len)
{
	char hdr[HDR_LEN + 1];

	state_rec_header(hdr, op, payload, len);
	wb_put(w, hdr, HDR_LEN);
	wb_put(w, payload, len);
	wb_put(w, "\n", 1);
}

/* Every live endpoint as snapshot GEN: write-temp + fsync + rename + fsync(dir),
 * so a snapshot that exists is whole. Returns 0 or a negative errno. */
static int snapshot_write(struct netd_state *s, unsigned long long gen)
{
	static struct wbuf w;
	char name[64], tmp[80], hdr[96];

	state_gen_name(name, sizeof(name), gen, "snap");
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	w.len = 0;
	w.err = 0;
	w.fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w.fd < 0)
		return -errno;
	snprintf(hdr, sizeof(hdr), "netd-endpoints 1 gen=%llu count=%zu", gen, s->n_eps);
	wb_record(&w, 'H', hdr, strlen(hdr));
	for (struct netd_ep *ep = s->first; ep; ep = ep->next)
		wb_record(&w, 'P', ep->json, strlen(ep->json));
	wb_flush(&w);
	if (!w.err && fsync(w.fd) < 0)
		w.err = errno;
	if (close(w.fd) < 0 && !w.err)
		w.err = errno;
	if (!w.err && renameat(s->dirfd, tmp, s->dirfd, name) < 0)
		w.err = errno;
	if (!w.err && fsync(s->dirfd) < 0)
		w.err = errno;
	if (w.err)
		unlinkat(s->dirfd, tmp, 0);
	return -w.err;
}

/* Snapshot GEN is durable: journals up to GEN and older snapshots are history. */
void state_remove_older(struct netd_state *s, unsigned long long gen)
{
	DIR *d = fdopendir(dup(s->dirfd));
	struct dirent *de;
	unsigned long long g;

	if (!d)
		return;
	rewinddir(d);
	while ((de = readdir(d))) {
		char kind = state_parse_name(de->d_name, &g);

		if ((kind == 'l' && g <= gen) || (kind == 's' && g < gen))
			unlinkat(s->dirfd, de->d_name, 0);
	}
	closedir(d);
}

static int compact_done(struct netd_state *s, unsigned long long gen, int rc, struct netd_err *err)
{
	uint64_t now = state_now_ms();

	s->child = 0;
	s->last_compact_ms = (double)(now - s->child_started_ms);
	if (rc < 0) {
		/* Nothing is lost: the journals stay and are loaded as before. */
		state_warn(s, "compaction of %s failed: %s; keeping the journals, retrying in 10 s", s->dir,
		     strerror(-rc));
		s->want_compact = true;
		s->compact_after_ms = now + 10000;
		return netd_err_set(err, rc, CNI_ERR_IO, "%s", s->warning);
	}
	s->n_compactions++;
	state_remove_older(s, gen);
	return 0;
}

static int child_rc(pid_t p, int status)
{
	if (p < 0)
		return -errno;
	if (WIFEXITED(status))
		return -WEXITSTATUS(status);
	return -EINTR;
}

/* Rotate to a new journal and snapshot the state as of the end of the old
 * one in a forked child (copy-on-write memory, the loop goes on). */
static int compact_start(struct netd_state *s, struct netd_err *err)
{
	unsigned long long gen = s->jgen;
	pid_t parent = getpid(), pid;
	int rc;

	s->child_started_ms = state_now_ms();
	s->want_compact = false;
	if ((rc = state_journal_create(s, gen + 1, err)) < 0) {
		s->want_compact = true;
		s->compact_after_ms = s->child_started_ms + 10000;
		return rc;
	}
	s->j_records = 0;
	pid = fork();
	if (pid < 0)
		return compact_done(s, gen, -errno, err);
	if (pid == 0) {
		/* Die with netd: a snapshot must not land after a successor started. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EINTR);
		if (s->dirfd > 3)
			close_range(3, s->dirfd - 1, 0);
		close_range(s->dirfd + 1, ~0U, 0);
		_exit(-snapshot_write(s, gen));
	}
	s->child = pid;
	s->child_gen = gen;
	return 0;
}

int state_wait_child(struct netd_state *s, struct netd_err *err)
{
	int status = 0;
	pid_t p;

	if (!s->child)
		return 0;
	while ((p = waitpid(s->child, &status, 0)) < 0 && errno == EINTR)
		;
	return compact_done(s, s->child_gen, child_rc(p, status), err);
}

int netd_state_compact(struct netd_state *s, struct netd_err *err)
{
	int rc;

	if (!s->dir)
		return 0;
	if ((rc = state_wait_child(s, err)) < 0 || (rc = compact_start(s, err)) < 0)
		return rc;
	return state_wait_child(s, err);
}

static bool compact_due(const struct netd_state *s, uint64_t now)
{
	if (!s->dir || s->child || now < s->compact_after_ms)
		return false;
	/* The journal at most about the live set: snapshots cost O(live) once
	 * per O(live) changes, and a load reads at most ~2x the live set. */
	return s->want_compact || (s->j_records >= s->compact_min && s->j_records > s->n_eps);
}

int netd_state_tick(struct netd_state *s, struct netd_err *err)
{
	uint64_t now;
	int rc = 0, status = 0;

	if (!s->dir)
		return 0;
	now = state_now_ms();
	if (s->dirty && now >= s->dirty_since_ms + NETD_SYNC_BATCH_MS) {
		s->dirty = false;
		if (fdatasync(s->jfd) < 0) {
			state_warn(s, "fdatasync %s/" J_PREFIX "%010llu.log: %s", s->dir, s->jgen, strerror(errno));
			rc = netd_err_set(err, -EIO, CNI_ERR_IO, "%s", s->warning);
		}
	}
	if (s->child) {
		pid_t p = waitpid(s->child, &status, WNOHANG);

		if (p != 0 && compact_done(s, s->child_gen, child_rc(p, status), err) < 0)
			rc = -EIO;
	}
	if (compact_due(s, now) && compact_start(s, err) < 0)
		rc = -EIO;
	return rc;
}

int netd_state_timeout_ms(const struct netd_state *s)
{
	uint64_t now;
	long t = -1;

	if (!s->dir)
		return -1;
	now = state_now_ms();
	if (s->child)
		t = 10;
	if (s->dirty) {
		uint64_t due = s->dirty_since_ms + NETD_SYNC_BATCH_MS;
		long d = due > now ? (long)(due - now) : 0;

		if (t < 0 || d < t)
			t = d;
	}
	if (s->want_compact && !s->child) {
		long d = s->compact_after_ms > now ? (long)(s->compact_after_ms - now) : 0;

		if (t < 0 || d < t)
			t = d;
	}
	return (int)t;
}
