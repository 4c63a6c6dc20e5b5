/* state_load.c — opening the state dir: networks, then the newest
 * snapshot and the journals after it (a torn tail is dropped with a
 * warning), endpoints whose netns is gone are dropped; appends continue in
 * the newest intact journal. */
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

/* Records are small: one read, then parse. (json_loadfd reads a byte per
 * syscall, which made loading 10,000 endpoints take seconds.) */
static json_t *load_json_at(int dirfd, const char *name)
{
	char buf[128 * 1024];	/* networks, and endpoints of the old layout (64 KiB bodies) */
	size_t len = 0;
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += n;
	close(fd);
	if (len == sizeof(buf))
		return NULL;
	return json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
}

/* Files that end in .json and are not our temporaries. */
static bool is_record(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

static void sweep_tmp(int dirfd)
{
	DIR *d = fdopendir(dup(dirfd));
	struct dirent *de;

	if (!d)
		return;
	rewinddir(d); /* the dup shares the offset with earlier readers */
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp"))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

static void load_networks(struct netd_state *s)
{
	DIR *d = fdopendir(dup(s->dirfd_nets));
	struct dirent *de;

	sweep_tmp(s->dirfd_nets);
	if (!d)
		return;
	rewinddir(d);
	while ((de = readdir(d))) {
		struct netd_net *n;
		struct netd_err e = {0};
		json_t *j;

		if (!is_record(de->d_name))
			continue;
		j = load_json_at(s->dirfd_nets, de->d_name);
		/* One bad file must not keep netd down. */
		if (!j || state_net_parse(j, true, &n, &e) < 0) {
			state_warn(s, "%s/" NET_DIR "/%s: skipped: %s", s->dir, de->d_name,
			     j ? e.msg : "unreadable or malformed JSON");
			json_decref(j);
			continue;
		}
		json_decref(j);
		if (netd_state_get_net(s, n->name)) {
			netd_net_free(n);
			continue;
		}
		state_link_net(s, n);
	}
	closedir(d);
}

/* Keep a loaded endpoint (taking it), its network made if missing. */
static void keep_loaded(struct netd_state *s, struct netd_ep *ep, const char *where)
{
	struct netd_err e = {0};

	if (state_ensure_net(s, ep->network, &e) < 0) {
		state_warn(s, "%s: skipped endpoint %s: %s", where, ep->id, e.msg);
		netd_ep_free(ep);
		return;
	}
	state_store_ep(s, ep, NULL);
}

/* A stored endpoint record that did not take the fast path. */
static void load_ep(struct netd_state *s, json_t *j, const char *where)
{
	struct netd_ep *ep;
	struct netd_err e = {0};

	if (!j || state_ep_parse(j, true, &ep, &e) < 0) {
		state_warn(s, "%s: skipped an endpoint record that does not validate: %s", where,
		     e.msg[0] ? e.msg : "malformed JSON");
		return;
	}
	keep_loaded(s, ep, where);
}

/* The fields the store indexes by, from a record as ep_parse writes it:
 * {"id":"..","containerID":"..","name":"..","network":"..","ifname":"..","netns":"..",...
 * Only strings without escapes; anything else is left to jansson. */
static bool canonical_fields(const char *p, size_t len, const char *v[6], size_t vlen[6])
{
	static const char *const pre[] = {"{\"id\":\"", ",\"containerID\":\"", ",\"name\":\"",
					  ",\"network\":\"", ",\"ifname\":\"", ",\"netns\":\""};
	const char *q = p, *end = p + len;

	for (int i = 0; i < 6; i++) {
		size_t k = strlen(pre[i]);

		if ((size_t)(end - q) < k || memcmp(q, pre[i], k))
			return false;
		v[i] = q += k;
		while (q < end && *q != '"' && *q != '\\' && *q)
			q++;
		if (q == end || *q != '"')
			return false;
		vlen[i] = q++ - v[i];
	}
	return true;
}

/* A journal or snapshot payload: checksummed, and written from ep_parse's
 * canonical output, so take the fields the store indexes by and keep the bytes
 * as they are. A load of 10,000 spent most of its time re-validating and
 * re-serialising them with ep_parse; that is now the fallback for anything
 * unexpected (and says what is wrong). */
static void load_ep_stored(struct netd_state *s, const char *p, size_t len, const char *where)
{
	struct netd_ep *ep = NULL;
	const char *v[6];
	size_t vlen[6];
	char id[256];
	json_t *j;

	if (!canonical_fields(p, len, v, vlen) || !(ep = state_ep_new(v, vlen, p, len)) ||
	    !netd_cid_valid(ep->container_id) || !netd_name_valid(ep->network) || !netd_ifname_valid(ep->ifname) ||
	    (*ep->name && !netd_name_valid(ep->name)) || ep->netns[0] != '/' ||
	    netd_ep_id(id, sizeof(id), ep->network, ep->container_id, ep->ifname) < 0 || strcmp(id, ep->id)) {
		netd_ep_free(ep);
		j = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
		load_ep(s, j, where);
		json_decref(j);
		return;
	}
	keep_loaded(s, ep, where);
}

/* Apply the records of one journal or snapshot, in order, up to the first
 * one that is not whole and intact (*torn then). Returns how many. */
static size_t load_file(struct netd_state *s, const char *name, bool *torn)
{
	char where[PATH_MAX + 64];
	struct stat st;
	const char *buf;
	size_t off = 0, n = 0, puts = 0, expect = (size_t)-1;
	int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*torn = false;
	snprintf(where, sizeof(where), "%s/%s", s->dir, name);
	if (fd < 0 || fstat(fd, &st) < 0) {
		state_warn(s, "%s: %s; its records are missing", where, strerror(errno));
		if (fd >= 0)
			close(fd);
		*torn = true;
		return 0;
	}
	if (!st.st_size) {
		close(fd);
		return 0;
	}
	buf = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (buf == MAP_FAILED) {
		state_warn(s, "%s: %s; its records are missing", where, strerror(errno));
		*torn = true;
		return 0;
	}
	while (off < (size_t)st.st_size) {
		const char *r = buf + off, *p = r + HDR_LEN;
		size_t left = st.st_size - off;
		uint32_t len, crc;

		if (left < HDR_LEN + 1 || (r[0] != 'P' && r[0] != 'D' && r[0] != 'H') || r[1] != ' ' ||
		    r[10] != ' ' || r[19] != ' ' || state_hex8(r + 2, &len) < 0 || state_hex8(r + 11, &crc) < 0 ||
		    len > left - HDR_LEN - 1 || p[len] != '\n' || state_rec_crc(r[0], p, len) != crc)
			break;
		if (r[0] == 'P') {
			load_ep_stored(s, p, len, where);
			puts++;
		} else if (r[0] == 'D') {
			char id[256];
			struct netd_ep *ep;

			if (len < sizeof(id)) {
				memcpy(id, p, len);
				id[len] = 0;
				if ((ep = netd_state_get_ep(s, id))) {
					state_unlink_ep(s, ep);
					netd_ep_free(ep);
				}
			}
		} else {
			const char *c = memmem(p, len, " count=", 7);

			if (c)
				expect = strtoull(c + 7, NULL, 10);
		}
		off += HDR_LEN + len + 1;
		n++;
	}
	if (off < (size_t)st.st_size) {
		*torn = true;
		state_warn(s, "%s: torn or corrupt record at byte %zu: dropped it and the %zu bytes after it; "
		     "the %zu records before it are kept", where, off, (size_t)st.st_size - off, n);
	} else if (expect != (size_t)-1 && expect != puts) {
		state_warn(s, "%s: header says %zu endpoints, found %zu", where, expect, puts);
	}
	munmap((void *)buf, st.st_size);
	return n;
}

static int cmp_gen(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

static int load_endpoints(struct netd_state *s, size_t *dropped, struct netd_err *err)
{
	unsigned long long snap = 0, g, *logs = NULL, jmax = 0;
	size_t n_logs = 0, cap = 0;
	bool torn = false, last_torn = false;
	DIR *d;
	struct dirent *de;
	char name[64];
	int rc = 0;

	sweep_tmp(s->dirfd);

	if (!(d = fdopendir(dup(s->dirfd))))
		return netd_err_set(err, -errno, CNI_ERR_IO, "%s: %s", s->dir, strerror(errno));
	rewinddir(d);
	while ((de = readdir(d))) {
		char kind = state_parse_name(de->d_name, &g);

		if (kind == 's' && g > snap)
			snap = g;
		if (kind != 'l')
			continue;
		if (n_logs == cap) {
			unsigned long long *nl = realloc(logs, (cap = cap ? cap * 2 : 8) * sizeof(*logs));

			if (!nl) {
				closedir(d);
				free(logs);
				rc = netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
				goto out;
			}
			logs = nl;
		}
		logs[n_logs++] = g;
	}
	closedir(d);
	if (n_logs)
		qsort(logs, n_logs, sizeof(*logs), cmp_gen);
	if (snap) {
		state_gen_name(name, sizeof(name), snap, "snap");
		load_file(s, name, &torn);
	}
	for (size_t i = 0; i < n_logs; i++) {
		if (logs[i] <= snap)
			continue;
		state_gen_name(name, sizeof(name), logs[i], "log");
		s->j_records += load_file(s, name, &last_torn);
		torn |= last_torn;
		jmax = logs[i];
	}
	free(logs);

	/* Append to the newest journal, unless it ends in garbage: then a new
	 * one, and the next compaction retires the torn file. */
	if (jmax && !last_torn) {
		struct stat st;

		state_gen_name(name, sizeof(name), jmax, "log");
		s->jfd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (s->jfd < 0 || fstat(s->jfd, &st) < 0) {
			rc = netd_err_set(err, -errno, CNI_ERR_IO, "%s/%s: %s", s->dir, name, strerror(errno));
			goto out;
		}
		s->jgen = jmax;
		s->j_size = st.st_size;
	} else if ((rc = state_journal_create(s, (jmax > snap ? jmax : snap) + 1, err)) < 0) {
		goto out;
	}
	if (torn)
		s->want_compact = true;
	if (snap)
		state_remove_older(s, snap);

	for (struct netd_ep *ep = s->first, *next; ep; ep = next) {
		next = ep->next;
		if (access(ep->netns, F_OK) == 0)
			continue;
		/* The container is gone: its runtime will never DEL it. If the
		 * delete cannot be journalled, the next load drops it again. */
		state_journal_append(s, 'D', ep->id, &(struct netd_err){0});
		state_unlink_ep(s, ep);
		netd_ep_free(ep);
		(*dropped)++;
	}

out:
	return rc;
}

int netd_state_open(const char *dir, struct netd_state **out, size_t *dropped, struct netd_err *err)
{
	struct netd_state *s = calloc(1, sizeof(*s));
	size_t dummy = 0;
	int rc;

	if (!dropped)
		dropped = &dummy;
	*dropped = 0;
	if (!s)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	s->dirfd = s->dirfd_nets = s->jfd = -1;
	s->sync = NETD_SYNC_BATCH;
	s->compact_min = NETD_COMPACT_MIN_DEFAULT;
	s->tab_size = 1024;
	if (!(s->tab = calloc(s->tab_size, sizeof(*s->tab)))) {
		free(s);
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	}
	if (dir) {
		char sub[PATH_MAX + 16];

		s->dir = strdup(dir);
		if ((rc = netd_mkdir_p(dir, 0700)) < 0 || (s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rc = rc < 0 ? rc : -errno;
			netd_err_set(err, rc, CNI_ERR_IO, "state dir %s: %s", dir, strerror(-rc));
			goto fail;
		}
		snprintf(sub, sizeof(sub), "%s/" NET_DIR, dir);
		if ((rc = netd_mkdir_p(sub, 0700)) < 0 ||
		    (s->dirfd_nets = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rc = rc < 0 ? rc : -errno;
			netd_err_set(err, rc, CNI_ERR_IO, "state dir %s: %s", sub, strerror(-rc));
			goto fail;
		}
		load_networks(s);
		if ((rc = load_endpoints(s, dropped, err)) < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	netd_state_free(s);
	return rc;
}
