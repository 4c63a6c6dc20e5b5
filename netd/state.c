/* state.c — networks and endpoints in memory (hash table by id, list in
 * registration order, networks sorted by name); each change goes to disk
 * first (state_journal.c). Records: state_record.c; compaction:
 * state_compact.c; loading: state_load.c; layout and format: daemon.h;
 * guarantees: docs/netd.md.
 *
 * Why a journal: a registration must survive kill -9 once acknowledged, and
 * at 10,000 endpoints neither rewriting one big file per request (O(n)) nor a
 * file per record (create + rename + fsyncs: 1-2.5 ms per change on a real
 * disk) is cheap. One write(2) of a checksummed record to an O_APPEND journal
 * is; the page cache carries it past a kill -9, the `sync` setting past a
 * power loss.
 */
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

static size_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

struct netd_ep *netd_state_get_ep(const struct netd_state *s, const char *id)
{
	struct netd_ep *e;

	for (e = s->tab[hash(id) & (s->tab_size - 1)]; e; e = e->hnext)
		if (!strcmp(e->id, id))
			return e;
	return NULL;
}

struct netd_net *netd_state_get_net(const struct netd_state *s, const char *name)
{
	struct netd_net *n;

	for (n = s->nets; n; n = n->next)
		if (!strcmp(n->name, name))
			return n;
	return NULL;
}

static int grow(struct netd_state *s)
{
	size_t size = s->tab_size * 2;
	struct netd_ep **tab = calloc(size, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (struct netd_ep *e = s->first; e; e = e->next) {
		size_t b = hash(e->id) & (size - 1);

		e->hnext = tab[b];
		tab[b] = e;
	}
	free(s->tab);
	s->tab = tab;
	s->tab_size = size;
	return 0;
}

void state_unlink_ep(struct netd_state *s, struct netd_ep *ep)
{
	struct netd_ep **pp = &s->tab[hash(ep->id) & (s->tab_size - 1)];
	struct netd_net *n;

	while (*pp != ep)
		pp = &(*pp)->hnext;
	*pp = ep->hnext;
	if (ep->prev)
		ep->prev->next = ep->next;
	else
		s->first = ep->next;
	if (ep->next)
		ep->next->prev = ep->prev;
	else
		s->last = ep->prev;
	s->n_eps--;
	if ((n = netd_state_get_net(s, ep->network)))
		n->n_eps--;
}

void state_link_net(struct netd_state *s, struct netd_net *n)
{
	struct netd_net **pp = &s->nets;

	/* sorted by name: listings come out stable */
	while (*pp && strcmp((*pp)->name, n->name) < 0)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
	s->n_nets++;
}

int state_ensure_net(struct netd_state *s, const char *name, struct netd_err *err)
{
	struct netd_net *n;
	json_t *body;
	int rc;

	if (netd_state_get_net(s, name))
		return 0;
	body = json_pack("{s:s, s:s, s:b}", "name", name, "driver", "", "implicit", 1);
	if (!body)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	rc = state_net_parse(body, true, &n, err);
	json_decref(body);
	if (rc < 0)
		return rc;
	if (s->dir) {
		char file[128];

		snprintf(file, sizeof(file), "%s.json", name);
		if ((rc = state_write_atomic(s->dirfd_nets, file, n->json, true, err)) < 0) {
			netd_net_free(n);
			return rc;
		}
	}
	state_link_net(s, n);
	return 0;
}

static void insert_ep(struct netd_state *s, struct netd_ep *ep)
{
	size_t b;

	if (s->n_eps + 1 > s->tab_size)
		grow(s); /* on failure the chains just get longer */
	b = hash(ep->id) & (s->tab_size - 1);
	ep->hnext = s->tab[b];
	s->tab[b] = ep;
	ep->next = NULL;
	ep->prev = s->last;
	if (s->last)
		s->last->next = ep;
	else
		s->first = ep;
	s->last = ep;
	s->n_eps++;
	netd_state_get_net(s, ep->network)->n_eps++;
}

/* Replace or insert in memory only. */
void state_store_ep(struct netd_state *s, struct netd_ep *ep, bool *replaced)
{
	struct netd_ep *old = netd_state_get_ep(s, ep->id);

	if (old) {
		state_unlink_ep(s, old);
		netd_ep_free(old);
	}
	if (replaced)
		*replaced = old != NULL;
	insert_ep(s, ep);
}

int netd_state_put_ep(struct netd_state *s, struct netd_ep *ep, bool *replaced, struct netd_err *err)
{
	int rc;

	if ((rc = state_ensure_net(s, ep->network, err)) < 0)
		goto fail;
	if (s->dir && (rc = state_journal_append(s, 'P', ep->json, err)) < 0)
		goto fail;
	state_store_ep(s, ep, replaced);
	return 0;
fail:
	netd_ep_free(ep);
	return rc;
}

int netd_state_del_ep(struct netd_state *s, const char *id, struct netd_err *err)
{
	struct netd_ep *ep = netd_state_get_ep(s, id);
	int rc;

	if (!ep)
		return netd_err_set(err, -ENOENT, NETD_ERR_NOT_FOUND, "no endpoint '%s'", id);
	if (s->dir && (rc = state_journal_append(s, 'D', ep->id, err)) < 0)
		return rc;
	state_unlink_ep(s, ep);
	netd_ep_free(ep);
	return 0;
}

int netd_state_put_net(struct netd_state *s, struct netd_net *n, struct netd_err *err)
{
	struct netd_net *old = netd_state_get_net(s, n->name), **pp;
	int rc;

	if (old && !old->implicit) {
		rc = netd_err_set(err, -EEXIST, NETD_ERR_IN_USE, "network '%s' already exists", n->name);
		goto fail;
	}
	if (s->dir) {
		char file[128];

		snprintf(file, sizeof(file), "%s.json", n->name);
		if ((rc = state_write_atomic(s->dirfd_nets, file, n->json, true, err)) < 0)
			goto fail;
	}
	if (old) {
		n->n_eps = old->n_eps;
		for (pp = &s->nets; *pp != old; pp = &(*pp)->next)
			;
		*pp = old->next;
		s->n_nets--;
		netd_net_free(old);
	}
	state_link_net(s, n);
	return 0;
fail:
	netd_net_free(n);
	return rc;
}

int netd_state_del_net(struct netd_state *s, const char *name, struct netd_err *err)
{
	struct netd_net *n = netd_state_get_net(s, name), **pp;
	int rc;

	if (!n)
		return netd_err_set(err, -ENOENT, NETD_ERR_NOT_FOUND, "no network '%s'", name);
	if (n->n_eps)
		return netd_err_set(err, -EBUSY, NETD_ERR_IN_USE, "network '%s' has %zu endpoints", name, n->n_eps);
	if (s->dir) {
		char file[128];

		snprintf(file, sizeof(file), "%s.json", name);
		if ((rc = state_unlink_durable(s->dirfd_nets, file, true, err)) < 0)
			return rc;
	}
	for (pp = &s->nets; *pp != n; pp = &(*pp)->next)
		;
	*pp = n->next;
	s->n_nets--;
	netd_net_free(n);
	return 0;
}

void netd_state_free(struct netd_state *s)
{
	struct netd_ep *e, *en;
	struct netd_net *n, *nn;
	struct netd_err err = {0};

	if (!s)
		return;
	state_wait_child(s, &err);
	if (s->jfd >= 0) {
		if (s->dirty)
			fdatasync(s->jfd);
		close(s->jfd);
	}
	for (e = s->first; e; e = en) {
		en = e->next;
		netd_ep_free(e);
	}
	for (n = s->nets; n; n = nn) {
		nn = n->next;
		netd_net_free(n);
	}
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->dirfd_nets >= 0)
		close(s->dirfd_nets);
	free(s->tab);
	free(s->dir);
	free(s);
}
