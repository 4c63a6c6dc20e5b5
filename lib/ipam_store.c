/* ipam_store.c — host-local's on-disk layout under <dataDir>/<network>/
 * (one file per reservation, last_reserved_ip.<N>, the lock) and our index
 * of it (.netd-index, a cache the reservation files are always checked
 * against). See netd/ipam_store.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netd/ipam.h"
#include "netd/util.h"
#include "ipam_internal.h"

#define LAST_PREFIX "last_reserved_ip."
#define LOCK_NAME "lock"
/* Reservation files are tiny; anything bigger is not ours. */
#define LEASE_MAX 4096

/* The index: <net>/INDEX_DIR/<attachment> lists the addresses an attachment
 * (container id, ifname) holds, so ADD, DEL and CHECK read one small file
 * instead of every reservation. It is only a cache of the reservation files,
 * which stay the truth: every address read from it is checked against its
 * reservation file before use.
 *
 * host-local (and anything else that knows nothing of the index) changes
 * the network directory without updating it. So after each run that changed
 * the directory we record the directory's stat (mtime, ctime, size, inode)
 * in the lock file, which nobody else writes; a run whose stat differs
 * rebuilds the index from a scan, once. The stamp is invalidated before our
 * own first change, so a run killed halfway leaves a rebuild behind, never a
 * wrong index. Entry contents never equal a reservation's ("<id>\r\n<ifname>"
 * or "<id>"), so host-local, which walks subdirectories, ignores them. */
#define INDEX_DIR ".netd-index"
#define INDEX_MAGIC "netd-ipam index v1\n"
#define STAMP_LEN 96

struct netd_ipam_store {
	int dirfd;
	int lockfd;
	int idxfd;		/* INDEX_DIR, or -1: no index, scan instead */
	bool lock_rw;		/* lock file writable: can hold the stamp */
	bool changed;		/* we changed the directory: stamp invalid until close */
	char *path;
};

static int read_small(int dirfd, const char *name, char *buf, size_t size);
static int parse_lease(char *body, struct netd_ipam_lease *l);

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void stamp_format(const struct stat *st, char out[STAMP_LEN])
{
	int n = snprintf(out, STAMP_LEN, "netd-index %lld.%09ld %lld.%09ld %lld %llu",
			 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
			 st->st_ctim.tv_nsec, (long long)st->st_size, (unsigned long long)st->st_ino);

	/* Fixed length, so a rewrite in place never leaves a tail behind. */
	memset(out + n, ' ', STAMP_LEN - 1 - (size_t)n);
	out[STAMP_LEN - 1] = '\n';
}

static void stamp_write(struct netd_ipam_store *s, bool valid)
{
	char buf[STAMP_LEN];
	struct stat st;

	if (!s->lock_rw)
		return;
	if (valid && fstat(s->dirfd, &st) == 0)
		stamp_format(&st, buf);
	else
		memset(buf, '-', sizeof(buf));
	if (pwrite(s->lockfd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) && valid)
		pwrite(s->lockfd, "-", 1, 0);
}

/* Before our first change to the directory in this run. */
static void store_changing(struct netd_ipam_store *s)
{
	if (s->changed)
		return;
	stamp_write(s, false);
	s->changed = true;
}

/* Stop using the index for this run; with the stamp invalid, the next run
 * rebuilds it. */
static void index_off(struct netd_ipam_store *s)
{
	store_changing(s);
	if (s->idxfd >= 0)
		close(s->idxfd);
	s->idxfd = -1;
}

/* Entry name: id and ifname with every byte outside [A-Za-z0-9._-]
 * %-escaped, joined by '+'. An old id-only reservation has ifname NULL and
 * gets "<id>+". -ENAMETOOLONG when it does not fit a file name. */
static int index_name(const char *id, const char *ifname, char out[NAME_MAX + 1])
{
	size_t o = 0;

	for (int part = 0; part < 2; part++) {
		for (const unsigned char *p = (const unsigned char *)(part ? (ifname ? ifname : "") : id); *p; p++) {
			if (o + 4 > NAME_MAX)
				return -ENAMETOOLONG;
			if (isalnum(*p) || *p == '.' || *p == '_' || *p == '-')
				out[o++] = (char)*p;
			else
				o += (size_t)snprintf(out + o, 4, "%%%02X", *p);
		}
		if (!part)
			out[o++] = '+';
	}
	out[o] = '\0';
	return 0;
}

/* Addresses of one entry into addrs (up to max). Returns how many, 0 when
 * there is no entry, <0 on error. */
static int index_read(struct netd_ipam_store *s, const char *name, struct netd_addr *addrs, size_t max)
{
	char body[LEASE_MAX], *save = NULL;
	int n = 0, rc;

	if ((rc = read_small(s->idxfd, name, body, sizeof(body))) < 0)
		return rc == -ENOENT ? 0 : rc;
	if (strncmp(body, INDEX_MAGIC, strlen(INDEX_MAGIC)))
		return -EINVAL;
	for (char *w = strtok_r(body + strlen(INDEX_MAGIC), "\n", &save); w; w = strtok_r(NULL, "\n", &save)) {
		if ((size_t)n == max || netd_addr_parse(w, &addrs[n]) < 0)
			return -EINVAL;
		n++;
	}
	return n;
}

static int index_write(struct netd_ipam_store *s, const char *name, const struct netd_addr *addrs, size_t n)
{
	char body[LEASE_MAX], a[NETD_ADDR_STRLEN];
	size_t off = 0;
	int fd, rc;

	if (!n)
		return unlinkat(s->idxfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	off = (size_t)snprintf(body, sizeof(body), "%s", INDEX_MAGIC);
	for (size_t i = 0; i < n && off < sizeof(body); i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off, "%s\n", netd_addr_str(&addrs[i], a));
	if (off >= sizeof(body))
		return -E2BIG;
	fd = openat(s->idxfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, body, off);
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

#define INDEX_MAX 64	/* addresses per attachment the index holds */

/* Add or drop one address of an attachment's entry. Any failure turns the
 * index off (see index_off): it must never be wrong, only absent. */
static void index_update(struct netd_ipam_store *s, const char *id, const char *ifname,
			 const struct netd_addr *a, bool add)
{
	struct netd_addr addrs[INDEX_MAX];
	char name[NAME_MAX + 1];
	int n, k = 0;

	if (s->idxfd < 0)
		return;
	if (index_name(id, ifname, name) < 0 || (n = index_read(s, name, addrs, INDEX_MAX)) < 0) {
		index_off(s);
		return;
	}
	for (int i = 0; i < n; i++)
		if (!netd_addr_eq(&addrs[i], a))
			addrs[k++] = addrs[i];
	if (add) {
		if (k == INDEX_MAX) {
			index_off(s);
			return;
		}
		addrs[k++] = *a;
	}
	if (index_write(s, name, addrs, (size_t)k) < 0)
		index_off(s);
}

struct keyed_lease {
	char name[NAME_MAX + 1];
	const struct netd_ipam_lease *l;
};

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed_lease *)a)->name, ((const struct keyed_lease *)b)->name);
}

/* Empty the index and write it again from every reservation file. */
static int index_rebuild(struct netd_ipam_store *s)
{
	struct netd_ipam_lease *leases = NULL;
	struct keyed_lease *k = NULL;
	struct dirent *de;
	size_t n = 0;
	int fd, rc = 0;
	DIR *d;

	store_changing(s);
	if ((fd = openat(s->idxfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(d = fdopendir(fd))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && unlinkat(s->idxfd, de->d_name, 0) < 0) {
			rc = -errno;
			break;
		}
	closedir(d);
	if (rc < 0 || (rc = netd_ipam_store_list(s, &leases, &n, NULL)) < 0)
		return rc;
	if (n && !(k = calloc(n, sizeof(*k))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		k[i].l = &leases[i];
		rc = index_name(leases[i].id, leases[i].ifname, k[i].name);
	}
	if (!rc && n)
		qsort(k, n, sizeof(*k), keyed_cmp);
	for (size_t i = 0, j; !rc && i < n; i = j) {
		struct netd_addr addrs[INDEX_MAX];
		size_t m = 0;

		for (j = i; j < n && !strcmp(k[j].name, k[i].name); j++)
			if (m < INDEX_MAX)
				addrs[m++] = k[j].l->addr;
		rc = j - i > INDEX_MAX ? -E2BIG : index_write(s, k[i].name, addrs, m);
	}
	free(k);
	netd_ipam_leases_free(leases, n);
	return rc;
}

/* After the lock: use the index if the stamp says nobody else changed the
 * directory since it was written; else rebuild it. Without a writable lock
 * file or index directory, run on scans alone. */
static void index_open(struct netd_ipam_store *s)
{
	char have[STAMP_LEN], want[STAMP_LEN];
	struct stat st;

	if (!s->lock_rw)
		return;
	s->idxfd = openat(s->dirfd, INDEX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->idxfd < 0 && errno == ENOENT) {
		store_changing(s);
		if (mkdirat(s->dirfd, INDEX_DIR, 0755) == 0 || errno == EEXIST)
			s->idxfd = openat(s->dirfd, INDEX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (s->idxfd < 0)
		return;
	if (!s->changed && fstat(s->dirfd, &st) == 0 && pread(s->lockfd, have, sizeof(have), 0) == sizeof(have)) {
		stamp_format(&st, want);
		if (!memcmp(have, want, sizeof(have)))
			return;
	}
	if (index_rebuild(s) < 0)
		index_off(s);
}

int netd_ipam_store_open(const char *data_dir, const char *network, struct netd_ipam_store **out,
			 struct netd_err *err)
{
	struct netd_ipam_store *s;
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return ipam_oom(err);
	s->dirfd = s->lockfd = s->idxfd = -1;
	if (asprintf(&s->path, "%s/%s", data_dir, network) < 0) {
		s->path = NULL;
		rc = ipam_oom(err);
		goto fail;
	}
	s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0 && errno == ENOENT) {
		if ((rc = netd_mkdir_p(s->path, 0755)) < 0) {
			netd_err_set(err, rc, CNI_ERR_IO, "cannot create %s: %s", s->path, strerror(-rc));
			goto fail;
		}
		s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (s->dirfd < 0) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "cannot open %s: %m", s->path);
		goto fail;
	}
	/* Read-write so it can hold the index stamp; read-only still locks. */
	s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	s->lock_rw = s->lockfd >= 0;
	if (s->lockfd < 0)
		s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "cannot open %s/" LOCK_NAME ": %m", s->path);
		goto fail;
	}
	while (flock(s->lockfd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "cannot lock %s/" LOCK_NAME ": %m", s->path);
		goto fail;
	}
	index_open(s);
	*out = s;
	return 0;
fail:
	netd_ipam_store_close(s);
	return rc;
}

void netd_ipam_store_close(struct netd_ipam_store *s)
{
	if (!s)
		return;
	if (s->changed && s->idxfd >= 0)
		stamp_write(s, true);
	if (s->idxfd >= 0)
		close(s->idxfd);
	if (s->lockfd >= 0)
		close(s->lockfd);	/* drops the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->path);
	free(s);
}

bool netd_ipam_store_indexed(const struct netd_ipam_store *s)
{
	return s && s->idxfd >= 0;
}

int netd_ipam_store_reserve(struct netd_ipam_store *s, const struct netd_addr *a, const char *id,
			    const char *ifname, size_t set, struct netd_err *err)
{
	char name[NETD_ADDR_STRLEN], last[sizeof(LAST_PREFIX) + 24], *body;
	int fd, rc, len;

	netd_addr_str(a, name);
	store_changing(s);
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return netd_err_set(err, -errno, CNI_ERR_IO, "cannot create %s/%s: %m", s->path, name);
	}
	len = asprintf(&body, "%s\r\n%s", id, ifname);
	if (len < 0) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return ipam_oom(err);
	}
	rc = write_all(fd, body, (size_t)len);
	free(body);
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (rc < 0) {
		unlinkat(s->dirfd, name, 0);
		return netd_err_set(err, rc, CNI_ERR_IO, "cannot write %s/%s: %s", s->path, name, strerror(-rc));
	}
	index_update(s, id, ifname, a, true);
	/* Only a hint for where to continue, as in host-local: a failure here
	 * costs the round robin one turn, not the reservation. */
	snprintf(last, sizeof(last), LAST_PREFIX "%zu", set);
	fd = openat(s->dirfd, last, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		write_all(fd, name, strlen(name));
		close(fd);
	}
	return 0;
}

int netd_ipam_store_remove_lease(struct netd_ipam_store *s, const struct netd_ipam_lease *l)
{
	char name[NETD_ADDR_STRLEN];

	store_changing(s);
	if (unlinkat(s->dirfd, netd_addr_str(&l->addr, name), 0) < 0)
		return -errno;
	index_update(s, l->id, l->ifname, &l->addr, false);
	return 0;
}

int netd_ipam_store_remove(struct netd_ipam_store *s, const struct netd_addr *a)
{
	struct netd_ipam_lease l;
	char name[NETD_ADDR_STRLEN];
	int rc;

	if ((rc = netd_ipam_store_get(s, a, &l)) == 0) {
		rc = netd_ipam_store_remove_lease(s, &l);
		netd_ipam_lease_clear(&l);
		return rc;
	}
	/* Unreadable: remove it anyway; the index no longer knows its owner. */
	store_changing(s);
	if (unlinkat(s->dirfd, netd_addr_str(a, name), 0) < 0)
		return -errno;
	index_off(s);
	return 0;
}

static int read_small(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	size_t off = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	while (off + 1 < size) {
		n = read(fd, buf + off, size - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return (int)off;
}

static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* File body -> lease: "<id>\r\n<ifname>", or just "<id>" from old host-local. */
static int parse_lease(char *body, struct netd_ipam_lease *l)
{
	char *t = trim(body), *sep = strstr(t, "\r\n");

	if (sep) {
		*sep = '\0';
		l->id = strdup(trim(t));
		l->ifname = strdup(trim(sep + 2));
		if (!l->id || !l->ifname)
			return -ENOMEM;
	} else if (!(l->id = strdup(t))) {
		return -ENOMEM;
	}
	return 0;
}

int netd_ipam_store_get(struct netd_ipam_store *s, const struct netd_addr *a, struct netd_ipam_lease *out)
{
	char name[NETD_ADDR_STRLEN], body[LEASE_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = read_small(s->dirfd, netd_addr_str(a, name), body, sizeof(body))) < 0)
		return rc;
	out->addr = *a;
	if ((rc = parse_lease(body, out)) < 0)
		netd_ipam_lease_clear(out);
	return rc;
}

void netd_ipam_lease_clear(struct netd_ipam_lease *l)
{
	if (!l)
		return;
	free(l->id);
	free(l->ifname);
	l->id = l->ifname = NULL;
}

void netd_ipam_leases_free(struct netd_ipam_lease *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		netd_ipam_lease_clear(&l[i]);
	free(l);
}

bool netd_ipam_lease_match(const struct netd_ipam_lease *l, const char *id, const char *ifname)
{
	if (!l->id || strcmp(l->id, id))
		return false;
	return !l->ifname || !strcmp(l->ifname, ifname);
}

int netd_ipam_store_list(struct netd_ipam_store *s, struct netd_ipam_lease **out, size_t *n,
			 struct netd_err *err)
{
	struct netd_ipam_lease *v = NULL;
	struct dirent *de;
	size_t cnt = 0;
	int fd, rc = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	/* fdopendir takes ownership of its fd, so give it a private one. */
	if ((fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(d = fdopendir(fd))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return netd_err_set(err, rc, CNI_ERR_IO, "cannot read %s: %s", s->path, strerror(-rc));
	}
	while ((de = readdir(d))) {
		struct netd_ipam_lease l = {0};
		char body[LEASE_MAX];

		if (netd_addr_parse(de->d_name, &l.addr) < 0)
			continue;
		if ((rc = read_small(s->dirfd, de->d_name, body, sizeof(body))) < 0) {
			if (rc == -ENOENT) {	/* removed meanwhile by someone not locking */
				rc = 0;
				continue;
			}
			netd_err_set(err, rc, CNI_ERR_IO, "cannot read %s/%s: %s", s->path, de->d_name,
				     strerror(-rc));
			break;
		}
		rc = parse_lease(body, &l);
		if (rc < 0 || ipam_push((void **)&v, &cnt, sizeof(l), &l) < 0) {
			netd_ipam_lease_clear(&l);
			rc = ipam_oom(err);
			break;
		}
	}
	closedir(d);
	if (rc < 0) {
		netd_ipam_leases_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int netd_ipam_store_last(struct netd_ipam_store *s, size_t set, struct netd_addr *out)
{
	char name[sizeof(LAST_PREFIX) + 24], body[128];
	int rc;

	snprintf(name, sizeof(name), LAST_PREFIX "%zu", set);
	if ((rc = read_small(s->dirfd, name, body, sizeof(body))) < 0)
		return rc;
	return netd_addr_parse(trim(body), out);
}

/* Index lookup for netd_ipam_store_held(): -ESTALE when the index cannot answer or an entry
 * does not match its reservation file (then a scan must). */
static int held_indexed(struct netd_ipam_store *s, const char *id, const char *ifname,
			struct netd_ipam_lease **out, size_t *n)
{
	for (int part = 0; part < 2; part++) {
		const char *want_if = part ? NULL : ifname;
		struct netd_addr addrs[INDEX_MAX];
		char name[NAME_MAX + 1];
		int k;

		if (index_name(id, want_if, name) < 0 || (k = index_read(s, name, addrs, INDEX_MAX)) < 0)
			return -ESTALE;
		for (int i = 0; i < k; i++) {
			struct netd_ipam_lease l;
			bool ok;

			if (netd_ipam_store_get(s, &addrs[i], &l) < 0)
				return -ESTALE;
			ok = l.id && !strcmp(l.id, id) &&
			     (want_if ? l.ifname && !strcmp(l.ifname, want_if) : !l.ifname);
			if (!ok || ipam_push((void **)out, n, sizeof(l), &l) < 0) {
				netd_ipam_lease_clear(&l);
				return ok ? -ENOMEM : -ESTALE;
			}
		}
	}
	return 0;
}

/* The reservations netd_ipam_lease_match gives to (id, ifname): exact ones
 * and old id-only ones of id. From the index when it is there, else (or
 * when it turns out stale) from a scan of every reservation.
 * With trust_miss false, finding nothing in the index also scans: where
 * timestamps are coarse (no multigrain timestamps, kernels before 6.13),
 * host-local could reserve in the same tick as our last change, unseen by
 * the stamp. DEL and CHECK take that scan (DEL of something never added is
 * rare); ADD trusts the miss, as the attachment being added is new. */
int netd_ipam_store_held(struct netd_ipam_store *s, const char *id, const char *ifname, bool trust_miss,
			 struct netd_ipam_lease **out, size_t *n, struct netd_err *err)
{
	struct netd_ipam_lease *all;
	size_t n_all, k = 0;
	bool missed = false;
	int rc;

	*out = NULL;
	*n = 0;
	if (s->idxfd >= 0) {
		rc = held_indexed(s, id, ifname, out, n);
		if (rc < 0 && rc != -ESTALE)
			return ipam_oom(err);
		if (rc == 0 && (*n || trust_miss))
			return 0;
		netd_ipam_leases_free(*out, *n);
		*out = NULL;
		*n = 0;
		if (rc == -ESTALE)
			index_off(s);
		missed = true;
	}
	if ((rc = netd_ipam_store_list(s, &all, &n_all, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_all; i++) {
		if (netd_ipam_lease_match(&all[i], id, ifname))
			all[k++] = all[i];
		else
			netd_ipam_lease_clear(&all[i]);
	}
	/* The scan found what the index did not know: rebuild it next run. */
	if (missed && k)
		index_off(s);
	*out = all;
	*n = k;
	return 0;
}

bool netd_ipam_store_taken(struct netd_ipam_store *s, const struct netd_addr *a)
{
	char name[NETD_ADDR_STRLEN];

	return faccessat(s->dirfd, netd_addr_str(a, name), F_OK, 0) == 0;
}
