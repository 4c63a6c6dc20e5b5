/* server.c — listeners in container namespaces, answers, the c-ares
 * forwarder; see netd/dns_server.h.
 *
 * Every socket on the server's epoll fd carries a struct handle saying what
 * it is. A forwarded query is a struct pending until c-ares calls back; if
 * its listener or TCP connection goes away meanwhile, the pointer is cleared
 * and the late answer is dropped.
 *
 * Why one file, over 800 lines: listeners, answering and the forwarder
 * all live by those lifetime rules over the same handles and pendings;
 * apart, each would reach into the others' structs. What is pure is already
 * elsewhere: the wire format in msg.c, the names and views in store.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <ares.h>

#include "netd/cni.h"
#include "netd/dns_cache.h"
#include "netd/dns_server.h"
#include "netd/netns.h"
#include "netd/nft_dns.h"
#include "netd/resolv.h"

#define PENDING_MAX 4096
/* failover: a set's servers in up to this many orders, each rotated by one */
#define UPSTREAM_ORDERS 4
#define UPSTREAM_RETRY_FIRST_MS 30000
#define LISTENER_BUCKETS 4096

const double dns_latency_bounds_ms[DNS_LATENCY_BUCKETS] = {1, 5, 10, 50, 100, 500, 1000, 1e300};

enum kind { K_UDP, K_TCP_LISTEN, K_TCP_CONN, K_ARES, K_OUTER };

/* A connection or c-ares socket closed while a batch of events is being
 * handled may still have an event further down the batch: it is marked
 * gone and freed after the batch. */
struct handle {
	void *owner;
	struct handle *gone_next;
	int fd;
	uint8_t kind;		/* enum kind */
	bool gone;
};

struct upstream;

struct ares_sock {
	struct handle h;
	struct ares_sock *next;
};

/* One c-ares channel: the set's servers in one order. */
struct chan {
	ares_channel ch;
	struct ares_sock *socks;
	struct upstream *u;
};

/* c-ares (1.18) starts every query with the first server and cannot change
 * its servers while queries are out, so a first server that stopped
 * answering would cost every query its timeout. Each set therefore has
 * channels with its servers rotated by 0, 1, 2 ...: once an answer came
 * only after timeouts, queries start with the server that answered, and
 * after UPSTREAM_RETRY_FIRST_MS the first one gets its turn again. */
struct upstream {
	struct upstream *next;
	char *key;		/* "" = the host's resolv.conf, else "a,b,c" */
	struct chan ch[UPSTREAM_ORDERS];
	uint8_t n_ch;		/* how many orders: the servers, at most UPSTREAM_ORDERS */
	uint8_t n_servers;
	uint8_t active;		/* the order new queries use */
	uint64_t active_ms;	/* since when */
	struct dns_server *s;
};

struct conn;

/* one per container: one allocation, the view inline */
struct listener {
	struct listener *next;	/* hash chain */
	struct handle udp, tcp;
	struct conn *conns;
	struct upstream *up;
	uint16_t n_conns;	/* at most DNS_TCP_PER_LISTENER */
	uint16_t n_pending;	/* forwarded, at most DNS_PENDING_PER_VIEW */
	uint16_t udp_port, tcp_port;
	bool direct;		/* on :53 itself: no nftables redirect */
	bool waiting;		/* put `later`: no sockets yet (dns_server_restore_next) */
	char view[];
};

struct conn {
	struct handle h;
	struct listener *l;
	struct conn *next;	/* in the listener */
	uint64_t last_ms;
	bool want_out;
	bool dead;		/* failed: closed by whoever is not still using it */
	uint8_t *out;
	size_t olen, ocap;
	struct dns_tcp_in in;
};

struct pending {
	struct pending *prev, *next;
	struct dns_server *s;
	struct listener *l;
	struct conn *c;		/* TCP client, or NULL for UDP */
	bool tcp;
	struct sockaddr_in from;
	struct dns_query q;
	struct upstream *up;	/* whose answer it will be, for the cache */
	uint8_t order;		/* which of its channels asked */
	uint64_t start_ms;
};

/* One UDP turn of a listener: its queries come in with one recvmmsg and
 * their answers go out with one sendmmsg; system calls, not answering, are
 * most of a query's cost. */
struct udp_batch {
	struct mmsghdr in[DNS_BURST], out[DNS_BURST];
	struct iovec iin[DNS_BURST], iout[DNS_BURST];
	struct sockaddr_in from[DNS_BURST];
	uint8_t pkt[DNS_BURST][DNS_UDP_MAX + 1];	/* + 1: longer than any query we accept */
	uint8_t ans[DNS_BURST][DNS_UDP_MAX];
};

struct dns_server {
	int epfd;
	struct dns_store *store;
	struct dns_cache *cache;
	struct listener *tab[LISTENER_BUCKETS];
	size_t restore_at;	/* no waiting listener in the buckets before it */
	struct upstream *ups;	/* the first is the host's */
	struct pending *pending;
	size_t n_pending;
	struct dns_stats st;
	char *resolv_conf;
	struct conn *serving;	/* the connection on_conn() is working on */
	struct handle *graveyard;
	size_t n_conns;		/* TCP clients, all listeners */
	struct handle outer;	/* the caller's epoll fd (dns_server_nest), or fd -1 */
	uint8_t out[DNS_TCP_MAX];
	struct udp_batch udp;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t bucket(const char *view)
{
	uint32_t h = 2166136261u;

	for (const char *p = view; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % LISTENER_BUCKETS;
}

static struct listener *listener_get(struct dns_server *s, const char *view)
{
	for (struct listener *l = s->tab[bucket(view)]; l; l = l->next)
		if (!strcmp(l->view, view))
			return l;
	return NULL;
}

static int ep_add(struct dns_server *s, struct handle *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, h->fd, &ev) < 0 ? -errno : 0;
}

/* ---- c-ares ------------------------------------------------------------- */

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct chan *c = data;
	struct ares_sock **pp, *a;
	struct epoll_event ev = {0};

	for (pp = &c->socks; *pp && (*pp)->h.fd != fd; pp = &(*pp)->next)
		;
	a = *pp;
	if (!readable && !writable) {
		if (a) {
			epoll_ctl(c->u->s->epfd, EPOLL_CTL_DEL, fd, NULL);
			*pp = a->next;
			a->h.gone = true;
			a->h.gone_next = c->u->s->graveyard;
			c->u->s->graveyard = &a->h;
		}
		return;
	}
	ev.events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	if (a) {
		ev.data.ptr = &a->h;
		epoll_ctl(c->u->s->epfd, EPOLL_CTL_MOD, fd, &ev);
		return;
	}
	if (!(a = calloc(1, sizeof(*a))))
		return; /* c-ares' own timeout ends the query */
	a->h = (struct handle){.owner = c, .fd = fd, .kind = K_ARES};
	ev.data.ptr = &a->h;
	if (epoll_ctl(c->u->s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(a);
		return;
	}
	a->next = c->socks;
	c->socks = a;
}

/* The channel for a set of servers ("" = the host's resolv.conf). */
static struct upstream *upstream_get(struct dns_server *s, const char *const *servers, size_t n,
				     struct netd_err *err)
{
	struct ares_options o = {0};
	struct ares_addr_node nodes[16];
	char key[16 * (INET6_ADDRSTRLEN + 1)] = "";
	size_t kl = 0, nn = 0;
	struct upstream *u;
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB, rc;

	for (size_t i = 0; i < n && nn < 16; i++) {
		struct netd_addr a;

		if (netd_addr_parse(servers[i], &a) < 0) {
			netd_err_set(err, -EINVAL, 0, "dns: upstream '%s' is not an IP address", servers[i]);
			return NULL;
		}
		memset(&nodes[nn], 0, sizeof(nodes[nn]));
		nodes[nn].family = a.family;
		memcpy(&nodes[nn].addr, a.b, netd_addr_len(&a));
		if (nn)
			nodes[nn - 1].next = &nodes[nn];
		kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s%s", nn ? "," : "", servers[i]);
		nn++;
	}
	for (u = s->ups; u; u = u->next)
		if (!strcmp(u->key, key))
			return u;
	if (!(u = calloc(1, sizeof(*u))) || !(u->key = strdup(key))) {
		free(u);
		netd_err_set(err, -ENOMEM, 0, "out of memory");
		return NULL;
	}
	u->s = s;
	/* relay the upstream's SERVFAIL/REFUSED as it is instead of c-ares' guess */
	o.flags = ARES_FLAG_NOCHECKRESP;
	o.timeout = DNS_UPSTREAM_TIMEOUT_MS;
	o.tries = DNS_UPSTREAM_TRIES;
	o.sock_state_cb = sock_state;
	if (!nn && s->resolv_conf) {
		o.resolvconf_path = s->resolv_conf;
		mask |= ARES_OPT_RESOLVCONF;
	}
	for (u->n_ch = 0; !u->n_ch || u->n_ch < (u->n_servers < UPSTREAM_ORDERS ? u->n_servers : UPSTREAM_ORDERS);
	     u->n_ch++) {
		struct chan *c = &u->ch[u->n_ch];
		struct ares_addr_node *list = NULL, *last;

		c->u = u;
		o.sock_state_cb_data = c;
		if ((rc = ares_init_options(&c->ch, &o, mask)) != ARES_SUCCESS) {
			netd_err_set(err, -EIO, 0, "dns: c-ares: %s", ares_strerror(rc));
			goto fail;
		}
		if (!u->n_ch) {
			if (nn && (rc = ares_set_servers(c->ch, nodes)) != ARES_SUCCESS)
				goto bad_servers;
			/* the servers as c-ares has them (from resolv.conf for the host's) */
			if (ares_get_servers(c->ch, &list) == ARES_SUCCESS)
				for (struct ares_addr_node *i = list; i && u->n_servers < 16; i = i->next)
					u->n_servers++;
			ares_free_data(list);
			continue;
		}
		/* the first channel's servers, the first n_ch of them moved to the end */
		if ((rc = ares_get_servers(u->ch[0].ch, &list)) != ARES_SUCCESS || !list)
			goto bad_servers;
		for (last = list; last->next; last = last->next)
			;
		for (int k = 0; k < u->n_ch; k++) {
			struct ares_addr_node *first = list;

			list = first->next;
			first->next = NULL;
			last->next = first;
			last = first;
		}
		rc = ares_set_servers(c->ch, list);
		ares_free_data(list); /* the whole chain */
		if (rc != ARES_SUCCESS)
			goto bad_servers;
	}
	/* the host's channel stays first */
	if (s->ups) {
		u->next = s->ups->next;
		s->ups->next = u;
	} else {
		s->ups = u;
	}
	return u;
bad_servers:
	netd_err_set(err, -EIO, 0, "dns: c-ares servers %s: %s", key, ares_strerror(rc));
	ares_destroy(u->ch[u->n_ch].ch);
fail:
	for (int i = 0; i < u->n_ch; i++)
		ares_destroy(u->ch[i].ch);
	free(u->key);
	free(u);
	return NULL;
}

/* ---- answering ------------------------------------------------------------ */

static void conn_close(struct dns_server *s, struct conn *c);

static void conn_flush(struct dns_server *s, struct conn *c)
{
	while (c->olen && !c->dead) {
		ssize_t n = send(c->h.fd, c->out, c->olen, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->dead = true;
			return;
		}
		memmove(c->out, c->out + n, c->olen - (size_t)n);
		c->olen -= (size_t)n;
	}
	if ((c->olen != 0) != c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | (c->olen ? EPOLLOUT : 0), .data.ptr = &c->h};

		c->want_out = c->olen != 0;
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->h.fd, &ev);
	}
}

/* A UDP answer goes out at once (a late one from upstream), a TCP one is
 * queued on its connection. */
static void send_answer(struct dns_server *s, struct listener *l, struct conn *c, const struct sockaddr_in *from,
			const uint8_t *ans, size_t len)
{
	if (len < DNS_HDR_LEN)
		return;
	s->st.by_rcode[ans[3] & 0xf]++;
	if (!c) {
		sendto(l->udp.fd, ans, len, MSG_DONTWAIT, (const struct sockaddr *)from, sizeof(*from));
		return;
	}
	if (c->olen + 2 + len > c->ocap) {
		size_t ncap = c->olen + 2 + len + 4096;
		uint8_t *n;

		/* a client that never reads does not get to grow us without bound */
		if (ncap > 4 * (2 + DNS_TCP_MAX) || !(n = realloc(c->out, ncap))) {
			c->dead = true;
			return;
		}
		c->out = n;
		c->ocap = ncap;
	}
	c->out[c->olen] = (uint8_t)(len >> 8);
	c->out[c->olen + 1] = (uint8_t)len;
	memcpy(c->out + c->olen + 2, ans, len);
	c->olen += 2 + len;
	conn_flush(s, c);
}

static void on_upstream(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct pending *p = arg;
	struct dns_server *s = p->s;
	size_t n = 0, limit = p->tcp ? DNS_TCP_MAX : p->q.udp_size;
	double ms = (double)(now_ms() - p->start_ms);

	if (p->prev)
		p->prev->next = p->next;
	else
		s->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	s->st.upstream_pending = --s->n_pending;
	if (p->l)
		p->l->n_pending--;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		free(p);
		return;
	}
	for (int i = 0; i < DNS_LATENCY_BUCKETS; i++)
		if (ms <= dns_latency_bounds_ms[i])
			s->st.upstream_latency[i]++;
	s->st.upstream_latency_sum_ms += ms;
	/* answered after `timeouts` servers in its order did not: start there
	 * (c-ares asks each server once per round, in order) */
	if (status == ARES_SUCCESS && timeouts > 0 && p->up->n_ch > 1 && p->order == p->up->active) {
		unsigned next = (p->order + (unsigned)timeouts % p->up->n_servers) % p->up->n_servers;

		if (next < p->up->n_ch && next != p->up->active) {
			p->up->active = (uint8_t)next;
			p->up->active_ms = now_ms();
		}
	}
	if (status == ARES_SUCCESS && abuf && alen > 0 && (size_t)alen <= sizeof(s->out)) {
		dns_cache_put(s->cache, p->up->key, &p->q, abuf, (size_t)alen, now_ms());
		memcpy(s->out, abuf, (size_t)alen);
		n = dns_relay(s->out, (size_t)alen, limit, &p->q);
	}
	if (!n) {
		s->st.upstream_failed++;
		n = dns_build_error(s->out, sizeof(s->out), limit, &p->q, DNS_RCODE_SERVFAIL);
	}
	if (p->l && (!p->tcp || p->c)) {
		send_answer(s, p->l, p->c, &p->from, s->out, n);
		if (p->c && p->c->dead && p->c != s->serving)
			conn_close(s, p->c);
	}
	free(p);
}

/* 0 once the query is on its way (on_upstream answers it), else the length
 * of the SERVFAIL built in out. */
static size_t forward(struct dns_server *s, struct listener *l, struct conn *c, const struct sockaddr_in *from,
		      const struct dns_query *q, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	struct pending *p;

	/* the table is shared: one container's share of it is bounded */
	if (s->n_pending >= PENDING_MAX || l->n_pending >= DNS_PENDING_PER_VIEW || len > 0xffff ||
	    !(p = calloc(1, sizeof(*p)))) {
		s->st.upstream_failed++;
		return dns_build_error(out, cap, c ? DNS_TCP_MAX : q->udp_size, q, DNS_RCODE_SERVFAIL);
	}
	p->s = s;
	p->l = l;
	p->c = c;
	p->tcp = c != NULL;
	if (from)
		p->from = *from;
	p->q = *q;
	p->up = l->up;
	p->start_ms = now_ms();
	/* past its time on another server, the first one is tried again */
	if (p->up->active && p->start_ms - p->up->active_ms >= UPSTREAM_RETRY_FIRST_MS)
		p->up->active = 0;
	p->order = p->up->active;
	p->next = s->pending;
	if (s->pending)
		s->pending->prev = p;
	s->pending = p;
	s->st.upstream_pending = ++s->n_pending;
	l->n_pending++;
	s->st.forwarded++;
	/* c-ares puts its own id on the wire; dns_relay() restores the client's */
	ares_send(p->up->ch[p->order].ch, pkt, (int)len, on_upstream, p);
	return 0;
}

/* The answer to one query, built in out (cap: at least the largest answer
 * the transport allows); 0 if none goes back now (dropped, or forwarded). */
static size_t answer_query(struct dns_server *s, struct listener *l, struct conn *c, const struct sockaddr_in *from,
			   const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	struct dns_query q;
	struct dns_builder b;
	size_t n, limit;
	int rc = dns_parse_query(pkt, len, &q);

	s->st.queries++;
	limit = c ? DNS_TCP_MAX : q.udp_size;
	if (rc == DNS_DROP) {
		s->st.dropped++;
		return 0;
	}
	if (rc < 0) {
		n = dns_build_error(out, cap, limit, &q, -rc);
		if (n && -rc == DNS_RCODE_BADVERS)
			s->st.badvers++;
		return n;
	}
	dns_build_start(&b, out, cap, limit, &q, DNS_RCODE_NOERROR);
	switch (dns_store_answer(s->store, l->view, &q, &b)) {
	case DNS_STORE_ANSWERED:
		s->st.local++;
		return dns_build_end(&b);
	case DNS_STORE_NXDOMAIN:
		s->st.local++;
		return dns_build_error(out, cap, limit, &q, DNS_RCODE_NXDOMAIN);
	default:
		/* a name that is not ours: the answer its upstream gave a moment ago, if any */
		if ((n = dns_cache_get(s->cache, l->up->key, &q, now_ms(), out, cap, limit)))
			return n;
		return forward(s, l, c, from, &q, pkt, len, out, cap);
	}
}

/* ---- sockets -------------------------------------------------------------- */

static void conn_close(struct dns_server *s, struct conn *c)
{
	struct conn **pp;

	for (struct pending *p = s->pending; p; p = p->next)
		if (p->c == c)
			p->c = NULL;
	for (pp = &c->l->conns; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	c->l->n_conns--;
	s->n_conns--;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->h.fd, NULL);
	close(c->h.fd);
	c->h.gone = true;
	c->h.gone_next = s->graveyard;
	s->graveyard = &c->h;
}

static void bury(struct dns_server *s)
{
	while (s->graveyard) {
		struct handle *h = s->graveyard;

		s->graveyard = h->gone_next;
		if (h->kind == K_TCP_CONN) {
			free(((struct conn *)h->owner)->out);
			free(h->owner);
		} else {
			free(h); /* an ares_sock starts with its handle */
		}
	}
}

static void on_udp(struct dns_server *s, struct listener *l)
{
	struct udp_batch *u = &s->udp;
	int n, k = 0;

	for (int i = 0; i < DNS_BURST; i++) {
		u->iin[i] = (struct iovec){.iov_base = u->pkt[i], .iov_len = sizeof(u->pkt[i])};
		u->in[i].msg_hdr = (struct msghdr){.msg_name = &u->from[i], .msg_namelen = sizeof(u->from[i]),
						   .msg_iov = &u->iin[i], .msg_iovlen = 1};
	}
	n = recvmmsg(l->udp.fd, u->in, DNS_BURST, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		size_t len = u->in[i].msg_len, a;

		/* longer than any query we accept: not worth parsing */
		if (len > DNS_UDP_MAX || (u->in[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			s->st.queries++;
			s->st.dropped++;
			continue;
		}
		a = answer_query(s, l, NULL, &u->from[i], u->pkt[i], len, u->ans[i], sizeof(u->ans[i]));
		if (a < DNS_HDR_LEN)
			continue;
		s->st.by_rcode[u->ans[i][3] & 0xf]++;
		u->iout[k] = (struct iovec){.iov_base = u->ans[i], .iov_len = a};
		u->out[k].msg_hdr = (struct msghdr){.msg_name = &u->from[i], .msg_namelen = sizeof(u->from[i]),
						    .msg_iov = &u->iout[k], .msg_iovlen = 1};
		k++;
	}
	/* an answer the kernel refuses (a full buffer, an unreachable client)
	 * stops sendmmsg there: that one is dropped, as sendto would have */
	for (int i = 0; i < k;) {
		int sent = sendmmsg(l->udp.fd, u->out + i, (unsigned)(k - i), MSG_DONTWAIT);

		i += sent > 0 ? sent : 1;
	}
}

static void on_accept(struct dns_server *s, struct listener *l)
{
	for (int i = 0; i < DNS_BURST; i++) {
		int fd = accept4(l->tcp.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		if (l->n_conns >= DNS_TCP_PER_LISTENER || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->h = (struct handle){.owner = c, .fd = fd, .kind = K_TCP_CONN};
		c->l = l;
		c->last_ms = now_ms();
		if (ep_add(s, &c->h, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = l->conns;
		l->conns = c;
		l->n_conns++;
		s->n_conns++;
	}
}

static void on_conn(struct dns_server *s, struct conn *c, uint32_t events)
{
	const uint8_t *m;
	size_t room, ml;
	ssize_t n;

	c->last_ms = now_ms();
	if (events & EPOLLOUT)
		conn_flush(s, c);
	if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		uint8_t *w = dns_tcp_space(&c->in, &room);

		n = room ? read(c->h.fd, w, room) : -1;
		/* closed, failed, or a full buffer that holds no whole message (cannot happen) */
		if (n == 0 || (n < 0 && (!room || (errno != EAGAIN && errno != EINTR))))
			c->dead = true;
		else if (n > 0)
			c->in.len += (size_t)n;
	}
	s->serving = c;
	/* everything buffered: epoll will not report these bytes again */
	while (!c->dead && dns_tcp_next(&c->in, &m, &ml) == 1) {
		size_t a = answer_query(s, c->l, c, NULL, m, ml, s->out, sizeof(s->out));

		if (a)
			send_answer(s, c->l, c, NULL, s->out, a);
		dns_tcp_consume(&c->in);
	}
	s->serving = NULL;
	if (c->dead)
		conn_close(s, c);
}

/* 127.0.0.11:port; port 0: one the kernel picks, returned */
static int bind_local(int fd, uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*port)};
	socklen_t al = sizeof(a);

	a.sin_addr.s_addr = htonl(0x7f00000b); /* 127.0.0.11 */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -errno;
	*port = ntohs(a.sin_port);
	return 0;
}

/* fd: any socket of the netns; an ioctl on it acts there */
static int lo_up(int fd, const char *netns, struct netd_err *err)
{
	struct ifreq ifr = {.ifr_name = "lo"};

	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	return 0;
fail:
	return netd_err_set(err, -errno, NETD_ERR_INTERNAL, "dns: cannot bring lo up in %s: %s", netns,
			    strerror(errno));
}

/* The sockets as listener_start() takes them. */
struct in_ns {
	const char *netns;
	int udp, tcp;
	uint16_t udp_port, tcp_port;
	bool direct;
	struct netd_err *err;
};

static int sockets(struct in_ns *a)
{
	int one = 1;

	a->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a->tcp = a->udp < 0 ? -1 : socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->tcp < 0)
		return netd_err_set(a->err, -errno, NETD_ERR_INTERNAL, "dns: socket in %s: %s", a->netns,
				    strerror(errno));
	/* TCP only: the last run's connections may linger in TIME_WAIT; on
	 * UDP it would let us share a port a container process holds */
	setsockopt(a->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return 0;
}

/* Run inside the container's netns, all in one visit (entering and leaving
 * is most of what a netns costs): both sockets, `lo`, and their ports with
 * the redirect table. A table still exactly as a previous run left it (a
 * restart, a kill -9) keeps its ports: they are bound again and nothing is
 * written. Otherwise ports of the kernel's choosing and the table written
 * for them, so :53 stays free for the container; without nftables, :53
 * itself. */
static int open_here(void *arg)
{
	struct in_ns *a = arg;
	struct netd_err nerr = {0};
	uint16_t u = 0, t = 0;
	int rc;

	if ((rc = sockets(a)) < 0 || (rc = lo_up(a->udp, a->netns, a->err)) < 0)
		return rc;
	if (netd_nft_dns_read(-1, &u, &t, &nerr) == 1) {
		/* bound ports stay bound whatever happens to the other */
		if (bind_local(a->udp, &u) == 0)
			a->udp_port = u;
		if (bind_local(a->tcp, &t) == 0)
			a->tcp_port = t;
		if (a->udp_port && a->tcp_port)
			return 0;
	}
	if ((!a->udp_port && (rc = bind_local(a->udp, &a->udp_port)) < 0) ||
	    (!a->tcp_port && (rc = bind_local(a->tcp, &a->tcp_port)) < 0))
		return netd_err_set(a->err, rc, 0, "dns: cannot bind 127.0.0.11 in %s: %s", a->netns, strerror(-rc));
	if (netd_nft_dns_redirect(-1, a->udp_port, a->tcp_port, &nerr) == 0)
		return 0;
	close(a->udp);
	close(a->tcp);
	a->udp_port = a->tcp_port = 53;
	if ((rc = sockets(a)) < 0)
		return rc;
	if ((rc = bind_local(a->udp, &a->udp_port)) < 0 || (rc = bind_local(a->tcp, &a->tcp_port)) < 0)
		return netd_err_set(a->err, rc, 0, "dns: no nftables redirect in %s (%s), and cannot listen on "
				    "127.0.0.11:53 either: %s", a->netns, nerr.msg, strerror(-rc));
	a->direct = true;
	return 0;
}

static void listener_free(struct dns_server *s, struct listener *l)
{
	while (l->conns)
		conn_close(s, l->conns);
	for (struct pending *p = s->pending; p; p = p->next)
		if (p->l == l)
			p->l = NULL;
	if (l->udp.fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, l->udp.fd, NULL);
		close(l->udp.fd);
	}
	if (l->tcp.fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, l->tcp.fd, NULL);
		close(l->tcp.fd);
	}
	if (l->direct)
		s->st.listeners_direct--;
	free(l);
}

static struct listener *listener_new(struct dns_server *s, const char *view)
{
	struct listener *l = calloc(1, sizeof(*l) + strlen(view) + 1);

	if (!l)
		return NULL;
	strcpy(l->view, view);
	l->udp = (struct handle){.owner = l, .fd = -1, .kind = K_UDP};
	l->tcp = (struct handle){.owner = l, .fd = -1, .kind = K_TCP_LISTEN};
	l->up = s->ups;
	return l;
}

/* l's sockets, opened and on the epoll fd; on failure l has none */
static int listener_start(struct dns_server *s, struct listener *l, struct netd_err *err)
{
	struct in_ns a = {.netns = l->view, .udp = -1, .tcp = -1, .err = err};
	int nsfd, rc;

	if ((rc = nsfd = netns_open(l->view, err)) < 0)
		return rc;
	rc = netns_run(nsfd, open_here, &a, err);
	close(nsfd);
	l->udp.fd = a.udp;
	l->tcp.fd = a.tcp;
	if (rc >= 0 && listen(l->tcp.fd, 64) < 0) {
		rc = -errno;
		netd_err_set(err, rc, 0, "dns: listen in %s: %s", l->view, strerror(-rc));
	}
	if (rc >= 0 && ((rc = ep_add(s, &l->udp, EPOLLIN)) < 0 || (rc = ep_add(s, &l->tcp, EPOLLIN)) < 0))
		netd_err_set(err, rc, 0, "dns: epoll: %s", strerror(-rc));
	if (rc < 0) {
		for (struct handle *h = &l->udp; h; h = h == &l->udp ? &l->tcp : NULL) {
			if (h->fd >= 0) {
				epoll_ctl(s->epfd, EPOLL_CTL_DEL, h->fd, NULL);
				close(h->fd);
			}
			h->fd = -1;
		}
		return rc;
	}
	l->udp_port = a.udp_port;
	l->tcp_port = a.tcp_port;
	if (a.direct) {
		s->st.listeners_direct++;
		l->direct = true;
	}
	return 0;
}

/* A listener that could not be opened leaves the table, as if never put:
 * the next registration of its container tries again. */
static void listener_drop(struct dns_server *s, struct listener *l)
{
	struct listener **pp;

	for (pp = &s->tab[bucket(l->view)]; *pp != l; pp = &(*pp)->next)
		;
	*pp = l->next;
	if (l->waiting)
		s->st.listeners_waiting--;
	listener_free(s, l);
}

/* The container's last endpoint went: its redirect table goes too (a
 * netns that outlives its endpoints, or is used again, must not send
 * 127.0.0.11:53 to ports netd no longer listens on, which someone else may
 * hold by then). A netns already gone took the table with it. */
static void redirect_remove(const char *netns)
{
	struct netd_err err = {0};
	int nsfd = netns_open(netns, &err);

	if (nsfd < 0)
		return;
	netd_nft_dns_remove(nsfd, &err);
	close(nsfd);
}

/* ---- the interface -------------------------------------------------------- */

/* The host's servers, read as netd-ipam reads a resolv.conf; with none that
 * c-ares can use (none at all, or only scoped link-local ones), c-ares' own
 * defaults. The first channel, the one every view starts with. */
static int host_upstream(struct dns_server *s, struct netd_err *err)
{
	struct cni_result *r = cni_result_new();
	struct netd_err rerr = {0};
	const char *servers[16];
	size_t n = 0;
	struct upstream *u;

	if (r && netd_resolv_conf_read(s->resolv_conf ? s->resolv_conf : "/etc/resolv.conf", &r->dns, &rerr) == 0) {
		for (size_t i = 0; i < r->dns.n_nameservers && n < 16; i++) {
			struct netd_addr a;

			if (netd_addr_parse(r->dns.nameservers[i], &a) == 0)
				servers[n++] = r->dns.nameservers[i];
		}
	}
	u = upstream_get(s, servers, n, err);
	cni_result_free(r);
	return u ? 0 : -EIO;
}

int dns_server_new(const char *resolv_conf, struct dns_server **out, struct netd_err *err)
{
	static bool lib_ready;
	struct dns_server *s;
	int rc;

	if (!lib_ready) {
		if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
			return netd_err_set(err, -EIO, 0, "dns: c-ares: %s", ares_strerror(rc));
		lib_ready = true;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return netd_err_set(err, -ENOMEM, 0, "out of memory");
	s->outer.fd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->store = dns_store_new();
	s->cache = dns_cache_new(DNS_CACHE_ENTRIES_DEFAULT);
	if (resolv_conf)
		s->resolv_conf = strdup(resolv_conf);
	if (s->epfd < 0 || !s->store || !s->cache || (resolv_conf && !s->resolv_conf)) {
		dns_server_free(s);
		return netd_err_set(err, -ENOMEM, 0, "dns: cannot set up: %m");
	}
	if (host_upstream(s, err) < 0) {
		dns_server_free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void dns_server_free(struct dns_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < LISTENER_BUCKETS; i++)
		while (s->tab[i]) {
			struct listener *l = s->tab[i];

			s->tab[i] = l->next;
			listener_free(s, l);
		}
	while (s->ups) {
		struct upstream *u = s->ups;

		s->ups = u->next;
		for (int i = 0; i < u->n_ch; i++) {
			ares_destroy(u->ch[i].ch); /* calls back every pending query with ARES_EDESTRUCTION */
			while (u->ch[i].socks) {
				struct ares_sock *a = u->ch[i].socks;

				u->ch[i].socks = a->next;
				free(a);
			}
		}
		free(u->key);
		free(u);
	}
	bury(s);
	dns_store_free(s->store);
	dns_cache_free(s->cache);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->resolv_conf);
	free(s);
}

int dns_server_fd(const struct dns_server *s)
{
	return s->epfd;
}

struct dns_store *dns_server_store(struct dns_server *s)
{
	return s->store;
}

const struct dns_stats *dns_server_stats(const struct dns_server *s)
{
	return &s->st;
}

int dns_server_cache_size(struct dns_server *s, size_t entries)
{
	struct dns_cache *c = dns_cache_new(entries);

	if (!c)
		return -ENOMEM;
	dns_cache_free(s->cache);
	s->cache = c;
	return 0;
}

const struct dns_cache_stats *dns_server_cache_stats(const struct dns_server *s)
{
	return dns_cache_stats(s->cache);
}

static void close_idle(struct dns_server *s, uint64_t now)
{
	/* only views with connections are visited: the whole table is cheap to
	 * skip, and connections are rare (large answers) */
	for (size_t i = 0; i < LISTENER_BUCKETS; i++)
		for (struct listener *l = s->tab[i]; l; l = l->next)
			for (struct conn *c = l->conns, *next; c; c = next) {
				next = c->next;
				if (now - c->last_ms >= DNS_TCP_IDLE_MS)
					conn_close(s, c);
			}
}

int dns_server_nest(struct dns_server *s, int fd)
{
	s->outer = (struct handle){.fd = fd, .kind = K_OUTER};
	return ep_add(s, &s->outer, EPOLLIN);
}

int dns_server_run(struct dns_server *s, int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(s->epfd, evs, 64, timeout_ms), busy = 0, outer = 0;

	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct handle *h = evs[i].data.ptr;

		if (h->gone)
			continue;
		busy += h->kind != K_OUTER;
		switch (h->kind) {
		case K_OUTER:
			outer = 1;
			break;
		case K_UDP:
			on_udp(s, h->owner);
			break;
		case K_TCP_LISTEN:
			on_accept(s, h->owner);
			break;
		case K_TCP_CONN:
			on_conn(s, h->owner, evs[i].events);
			break;
		case K_ARES: {
			struct chan *c = h->owner;
			int fd = h->fd; /* h may be freed by c-ares' callbacks */

			ares_process_fd(c->ch, evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
					evs[i].events & EPOLLOUT ? fd : ARES_SOCKET_BAD);
			break;
		}
		}
	}
	/* upstream timeouts, which only queries on their way have */
	for (struct upstream *u = s->ups; s->n_pending && u; u = u->next)
		for (int i = 0; i < u->n_ch; i++)
			ares_process_fd(u->ch[i].ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	if (s->n_conns && busy == 0)
		close_idle(s, now_ms());
	bury(s);
	return outer;
}

int dns_server_timeout_ms(struct dns_server *s)
{
	long best = -1;

	for (struct upstream *u = s->ups; s->n_pending && u; u = u->next)
		for (int i = 0; i < u->n_ch; i++) {
			struct timeval tv, *t = ares_timeout(u->ch[i].ch, NULL, &tv);

			if (t) {
				long ms = t->tv_sec * 1000 + (t->tv_usec + 999) / 1000;

				if (best < 0 || ms < best)
					best = ms;
			}
		}
	return (int)best;
}

/* A listener put `later` opens now; one that cannot goes, as a failed
 * registration's would. */
static int waiting_start(struct dns_server *s, struct listener *l, struct netd_err *err)
{
	int rc = listener_start(s, l, err);

	if (rc < 0) {
		listener_drop(s, l);
		return rc;
	}
	l->waiting = false;
	s->st.listeners_waiting--;
	s->st.listeners++;
	return 0;
}

int dns_server_put(struct dns_server *s, const struct dns_ep_info *ep, const char *const *upstreams,
		   size_t n_upstreams, bool later, struct netd_err *err)
{
	const char *was = dns_store_view_of(s->store, ep->id);
	struct listener *l;
	struct upstream *u = NULL;
	int rc;

	/* the same endpoint in another netns now (a repeated ADD): its old
	 * container loses the listener if nothing else of it is left */
	if (was && strcmp(was, ep->view))
		dns_server_del(s, ep->id);
	if ((rc = dns_store_put(s->store, ep)) < 0)
		return netd_err_set(err, rc, 0, "dns: cannot store the records of %s: %s", ep->id, strerror(-rc));
	if (n_upstreams && !(u = upstream_get(s, upstreams, n_upstreams, err)))
		return -EINVAL;
	if (!(l = listener_get(s, ep->view))) {
		size_t b = bucket(ep->view);

		if (!(l = listener_new(s, ep->view)))
			return netd_err_set(err, -ENOMEM, 0, "out of memory");
		if (!later && (rc = listener_start(s, l, err)) < 0) {
			free(l);
			return rc;
		}
		l->next = s->tab[b];
		s->tab[b] = l;
		if (later) {
			l->waiting = true;
			s->st.listeners_waiting++;
			if (b < s->restore_at)
				s->restore_at = b;
		} else {
			s->st.listeners++;
		}
	} else if (l->waiting && !later) {
		/* registered while its turn has not come: now, as any registration */
		if ((rc = waiting_start(s, l, err)) < 0)
			return rc;
	}
	if (u)
		l->up = u;
	return 0;
}

int dns_server_restore_next(struct dns_server *s, struct netd_err *err)
{
	while (s->st.listeners_waiting && s->restore_at < LISTENER_BUCKETS) {
		struct listener *l = s->tab[s->restore_at];
		int rc;

		while (l && !l->waiting)
			l = l->next;
		if (!l) {
			s->restore_at++;
			continue;
		}
		if ((rc = waiting_start(s, l, err)) < 0)
			return rc;
		return 1;
	}
	return 0;
}

void dns_server_del(struct dns_server *s, const char *id)
{
	const char *v = dns_store_view_of(s->store, id);
	char *view = v ? strdup(v) : NULL;
	struct listener **pp;

	if (dns_store_del(s->store, id) < 0 || !view || dns_store_view_size(s->store, view)) {
		free(view);
		return;
	}
	for (pp = &s->tab[bucket(view)]; *pp && strcmp((*pp)->view, view); pp = &(*pp)->next)
		;
	if (*pp) {
		struct listener *l = *pp;
		bool direct = l->direct;

		if (l->waiting)
			s->st.listeners_waiting--;
		else
			s->st.listeners--;
		*pp = l->next;
		listener_free(s, l);
		/* a waiting one's table is the last run's, there all the same */
		if (!direct)
			redirect_remove(view);
	}
	free(view);
}

/* c-ares' view of a channel's servers, which for the host's channel is what
 * it made of resolv.conf */
static void servers_of(const struct upstream *u, char *buf, size_t size)
{
	struct ares_addr_port_node *list = NULL;
	size_t len = 0;

	*buf = 0;
	if (ares_get_servers_ports(u->ch[0].ch, &list) != ARES_SUCCESS)
		return;
	for (struct ares_addr_port_node *n = list; n; n = n->next) {
		char a[INET6_ADDRSTRLEN];
		int w;

		if (!inet_ntop(n->family, &n->addr, a, sizeof(a)))
			continue;
		w = snprintf(buf + len, size - len, "%s%s", len ? "," : "", a);
		if (w < 0 || (size_t)w >= size - len)
			break;
		len += (size_t)w;
	}
	ares_free_data(list);
}

enum dns_store_result dns_server_explain(struct dns_server *s, const char *view, const struct dns_query *q,
					 dns_store_why_fn *fn, void *arg, char *servers, size_t size, bool *own,
					 bool *listening)
{
	struct listener *l = listener_get(s, view);
	const struct upstream *u = l ? l->up : s->ups;
	struct dns_builder b;
	enum dns_store_result r;

	*listening = l && !l->waiting;
	dns_build_start(&b, s->out, sizeof(s->out), DNS_TCP_MAX, q, DNS_RCODE_NOERROR);
	r = dns_store_explain(s->store, view, q, &b, fn, arg);
	*own = u != s->ups;
	servers_of(u, servers, size);
	return r;
}

bool dns_server_listening(const struct dns_server *s, const char *view)
{
	return listener_get((struct dns_server *)s, view) != NULL;
}
