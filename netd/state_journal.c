/* state_journal.c — netd's state on disk, record by record: network files
 * (write-temp + rename, fsynced), and the endpoint journal (checksummed
 * records, one write(2) each; daemon.h has the format). */
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

/* ---- persistence: network records --------------------------------------- */

/* Networks change rarely: one file each, always fsynced. */
int state_write_atomic(int dirfd, const char *name, const char *data, bool sync, struct netd_err *err)
{
	char tmp[300];
	size_t len = strlen(data), off = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "create %s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = netd_err_set(err, -errno, CNI_ERR_IO, "write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		off += n;
	}
	if (write(fd, "\n", 1) != 1 || (sync && fsync(fd) < 0)) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (sync && fsync(dirfd) < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "fsync state dir: %s", strerror(errno));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return rc;
}

int state_unlink_durable(int dirfd, const char *name, bool sync, struct netd_err *err)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return netd_err_set(err, -errno, CNI_ERR_IO, "remove %s: %s", name, strerror(errno));
	if (sync && fsync(dirfd) < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "fsync state dir: %s", strerror(errno));
	return 0;
}

/* ---- persistence: the endpoint journal ---------------------------------- */

/* Why a journal: an acknowledged registration must survive kill -9, and for
 * that one write(2) into the page cache is enough; a file per record cost a
 * create + rename (+ fsyncs) per change, 1-2.5 ms on a real disk. The record
 * header is fixed-width text so the files stay readable with less(1). */

void (*netd_state_warn)(const char *msg);

static uint32_t crc_tab[256];

static uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!crc_tab[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			crc_tab[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = crc_tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t state_rec_crc(char op, const char *payload, size_t len)
{
	return crc32_update(crc32_update(0, &op, 1), payload, len);
}

void state_rec_header(char hdr[HDR_LEN + 1], char op, const char *payload, size_t len)
{
	snprintf(hdr, HDR_LEN + 1, "%c %08zx %08x ", op, len, (unsigned)state_rec_crc(op, payload, len));
}

int state_hex8(const char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (uint32_t)(c - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

void state_gen_name(char *buf, size_t size, unsigned long long gen, const char *ext)
{
	snprintf(buf, size, J_PREFIX "%010llu.%s", gen, ext);
}

/* "endpoints.0000000003.log" -> 'l', 3; ".snap" -> 's'; anything else 0. */
char state_parse_name(const char *name, unsigned long long *gen)
{
	const char *p = name + strlen(J_PREFIX);

	if (strncmp(name, J_PREFIX, strlen(J_PREFIX)))
		return 0;
	for (int i = 0; i < 10; i++)
		if (!isdigit((unsigned char)p[i]))
			return 0;
	*gen = strtoull(p, NULL, 10);
	if (!strcmp(p + 10, ".log"))
		return 'l';
	if (!strcmp(p + 10, ".snap"))
		return 's';
	return 0;
}

uint64_t state_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void state_warn(struct netd_state *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->warning, sizeof(s->warning), fmt, ap);
	va_end(ap);
	s->n_warnings++;
	if (netd_state_warn)
		netd_state_warn(s->warning);
}

/* Start journal GEN and append to it from now on. The old one is synced
 * first, so a batch window never spans two files. */
int state_journal_create(struct netd_state *s, unsigned long long gen, struct netd_err *err)
{
	char name[64];
	int fd;

	state_gen_name(name, sizeof(name), gen, "log");
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "create %s/%s: %s", s->dir, name, strerror(errno));
	/* Records synced into a file whose name is not durable would be lost
	 * with it on a power loss. */
	if (s->sync != NETD_SYNC_NEVER && fsync(s->dirfd) < 0) {
		int rc = -errno;

		close(fd);
		unlinkat(s->dirfd, name, 0);
		return netd_err_set(err, rc, CNI_ERR_IO, "fsync %s: %s", s->dir, strerror(-rc));
	}
	if (s->jfd >= 0) {
		if (s->dirty && fdatasync(s->jfd) < 0)
			state_warn(s, "fdatasync %s/" J_PREFIX "%010llu.log: %s", s->dir, s->jgen, strerror(errno));
		close(s->jfd);
	}
	s->jfd = fd;
	s->jgen = gen;
	s->j_size = 0;
	s->j_broken = false;
	s->dirty = false;
	return 0;
}

/* One change = one write of one whole record; after it returns, a kill -9
 * cannot lose the change. */
int state_journal_append(struct netd_state *s, char op, const char *payload, struct netd_err *err)
{
	size_t len = strlen(payload);
	char hdr[HDR_LEN + 1];
	struct iovec iov[3] = {
		{hdr, HDR_LEN}, {(void *)payload, len}, {"\n", 1},
	};
	ssize_t n;
	int rc;

	if (s->j_broken && (rc = state_journal_create(s, s->jgen + 1, err)) < 0)
		return rc;
	state_rec_header(hdr, op, payload, len);
	do
		n = writev(s->jfd, iov, 3);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)(HDR_LEN + len + 1) && s->sync == NETD_SYNC_ALWAYS && fdatasync(s->jfd) < 0)
		n = -1;
	if (n != (ssize_t)(HDR_LEN + len + 1)) {
		rc = n < 0 ? -errno : -ENOSPC;
		/* A partial (or unsynced) record must not stay in front of later
		 * ones: take it back, or leave this file for a new one. */
		if (n != 0 && ftruncate(s->jfd, s->j_size) < 0)
			s->j_broken = true;
		return netd_err_set(err, rc, CNI_ERR_IO, "append to %s/" J_PREFIX "%010llu.log: %s", s->dir, s->jgen,
				    strerror(-rc));
	}
	s->j_size += n;
	s->j_records++;
	if (s->sync == NETD_SYNC_BATCH && !s->dirty) {
		s->dirty = true;
		s->dirty_since_ms = state_now_ms();
	}
	return 0;
}
