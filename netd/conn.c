/* conn.c — bounds and deadlines for API connections. See conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "netd/util.h"

void netd_conns_init(struct netd_conns *t)
{
	memset(t, 0, sizeof(*t));
	t->max = NETD_CONN_MAX_DEFAULT;
	t->max_per_uid = NETD_CONN_MAX_PER_UID_DEFAULT;
	t->timeout_ms = NETD_CONN_TIMEOUT_MS_DEFAULT;
}

void netd_conns_fini(struct netd_conns *t)
{
	free(t->c);
	free(t->uids);
	memset(t, 0, sizeof(*t));
}

static int grow(struct netd_conns *t, int fd)
{
	struct netd_conn *c;
	int cap = t->cap ? t->cap : 64;

	while (cap <= fd)
		cap *= 2;
	if (!(c = realloc(t->c, (size_t)cap * sizeof(*c))))
		return -ENOMEM;
	memset(c + t->cap, 0, (size_t)(cap - t->cap) * sizeof(*c));
	t->c = c;
	t->cap = cap;
	return 0;
}

static struct netd_conn_uid *uid_slot(struct netd_conns *t, uid_t uid, bool create)
{
	struct netd_conn_uid *u;

	for (size_t i = 0; i < t->n_uids; i++)
		if (t->uids[i].uid == uid)
			return &t->uids[i];
	if (!create)
		return NULL;
	if (!(u = netd_grow(t->uids, &t->cap_uids, t->n_uids, sizeof(*u), 8)))
		return NULL;
	t->uids = u;
	t->uids[t->n_uids] = (struct netd_conn_uid){.uid = uid};
	return &t->uids[t->n_uids++];
}

size_t netd_conns_of_uid(const struct netd_conns *t, uid_t uid)
{
	for (size_t i = 0; i < t->n_uids; i++)
		if (t->uids[i].uid == uid)
			return t->uids[i].n;
	return 0;
}

const struct netd_conn *netd_conns_get(const struct netd_conns *t, int fd)
{
	return fd >= 0 && fd < t->cap ? &t->c[fd] : NULL;
}

/* The list links hold fd + 1, so that 0 ends it and a zeroed table is empty. */
#define FIRST(t) ((t)->head - 1)
#define NEXT(t, fd) ((t)->c[fd].next - 1)

static void link_tail(struct netd_conns *t, int fd)
{
	t->c[fd].prev = t->tail;
	t->c[fd].next = 0;
	if (t->tail)
		t->c[t->tail - 1].next = fd + 1;
	else
		t->head = fd + 1;
	t->tail = fd + 1;
}

static void unlink_fd(struct netd_conns *t, int fd)
{
	struct netd_conn *c = &t->c[fd];

	if (c->prev)
		t->c[c->prev - 1].next = c->next;
	else
		t->head = c->next;
	if (c->next)
		t->c[c->next - 1].prev = c->prev;
	else
		t->tail = c->prev;
	c->prev = c->next = 0;
}

/* Out of the counts and the list; the socket is still open. */
static void drop(struct netd_conns *t, int fd)
{
	struct netd_conn_uid *u = uid_slot(t, t->c[fd].uid, false);

	unlink_fd(t, fd);
	if (u && u->n)
		u->n--;
	t->n--;
	t->c[fd].state = NETD_CONN_DROPPED;
}

/* The oldest connection to push out, of uid (or of any uid if !only_uid):
 * one still waiting for its request if there is one, else the oldest busy. */
static int victim(const struct netd_conns *t, bool only_uid, uid_t uid)
{
	int busy = -1;

	for (int fd = FIRST(t); fd >= 0; fd = NEXT(t, fd)) {
		if (only_uid && t->c[fd].uid != uid)
			continue;
		if (t->c[fd].state == NETD_CONN_WAITING)
			return fd;
		if (busy < 0)
			busy = fd;
	}
	return busy;
}

int netd_conns_add(struct netd_conns *t, int fd, uid_t uid, bool refused, uint64_t now_ms, int *evict)
{
	struct netd_conn_uid *u;
	int v = -1;

	*evict = -1;
	if (fd < 0)
		return -EBADF;
	if (fd >= t->cap && grow(t, fd) < 0)
		return -ENOMEM;
	if (t->c[fd].state != NETD_CONN_FREE) /* the caller lost track: start over */
		netd_conns_del(t, fd);
	if (!(u = uid_slot(t, uid, true)))
		return -ENOMEM;
	if (u->n >= t->max_per_uid) {
		v = victim(t, true, uid);
	} else if (t->n >= t->max) {
		/* the uid holding the most gives one up */
		struct netd_conn_uid *top = NULL;

		for (size_t i = 0; i < t->n_uids; i++)
			if (!top || t->uids[i].n > top->n)
				top = &t->uids[i];
		v = victim(t, true, top->uid);
	}
	if ((u->n >= t->max_per_uid || t->n >= t->max) && v < 0)
		return -ENOSPC;
	if (v >= 0) {
		drop(t, v);
		t->evicted++;
		*evict = v;
	}
	t->c[fd] = (struct netd_conn){.uid = uid, .since_ms = now_ms, .state = NETD_CONN_WAITING,
				      .refused = refused};
	link_tail(t, fd);
	u->n++;
	t->n++;
	return 0;
}

void netd_conns_busy(struct netd_conns *t, int fd)
{
	if (fd >= 0 && fd < t->cap && t->c[fd].state == NETD_CONN_WAITING)
		t->c[fd].state = NETD_CONN_BUSY;
}

void netd_conns_idle(struct netd_conns *t, int fd, uint64_t now_ms)
{
	if (fd < 0 || fd >= t->cap || (t->c[fd].state != NETD_CONN_BUSY && t->c[fd].state != NETD_CONN_WAITING))
		return;
	/* to the end of the list: it is the newest waiter now */
	unlink_fd(t, fd);
	t->c[fd].since_ms = now_ms;
	t->c[fd].state = NETD_CONN_WAITING;
	link_tail(t, fd);
}

void netd_conns_del(struct netd_conns *t, int fd)
{
	if (fd < 0 || fd >= t->cap || t->c[fd].state == NETD_CONN_FREE)
		return;
	if (t->c[fd].state != NETD_CONN_DROPPED)
		drop(t, fd);
	t->c[fd].state = NETD_CONN_FREE;
}

/* The list is ordered by since_ms, so the first waiting entry has the
 * earliest deadline; busy entries are passed over. */
static int first_waiting(const struct netd_conns *t)
{
	for (int fd = FIRST(t); fd >= 0; fd = NEXT(t, fd))
		if (t->c[fd].state == NETD_CONN_WAITING)
			return fd;
	return -1;
}

int netd_conns_expired(struct netd_conns *t, uint64_t now_ms)
{
	int fd = first_waiting(t);

	if (fd < 0 || t->c[fd].since_ms + t->timeout_ms > now_ms)
		return -1;
	drop(t, fd);
	t->expired++;
	return fd;
}

int netd_conns_timeout_ms(const struct netd_conns *t, uint64_t now_ms)
{
	int fd = first_waiting(t);
	uint64_t due;

	if (fd < 0)
		return -1;
	due = t->c[fd].since_ms + t->timeout_ms;
	return due <= now_ms ? 0 : due - now_ms > 3600000 ? 3600000 : (int)(due - now_ms);
}
