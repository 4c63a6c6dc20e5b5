/* netd — the daemon: one thread, one epoll loop.
 *
 * Sources on the loop: a signalfd (SIGTERM/SIGINT stop cleanly keeping state,
 * SIGHUP reloads the config), the API's listening socket, libmicrohttpd's
 * epoll fd (the API's connections), a timerfd armed with MHD's next timeout,
 * and the connections of refused peers while they drain. No locks, because
 * nothing else runs. The loop waits in the resolver's epoll fd, where its own
 * is nested: DNS queries are the busy part, and so cost one epoll_wait.
 *
 * netd accepts API connections itself: the peer's credentials are read before
 * any of its bytes, a peer that is not allowed is answered 403 without MHD,
 * and the connection table (conn.h) bounds what one uid may hold and how long
 * a request may take, so idle or trickling clients cannot lock others out.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include <systemd/sd-daemon.h>

#include "cni_tables.h"
#include "daemon.h"
#include "fw.h"
#include "netd/log.h"
#include "netd/nft.h"

/* Command line settings, applied again on top of the file at every reload. */
struct override {
	const char *key, *value;
};
static struct override overrides[8];
static size_t n_overrides;
static const char *config_path;
static bool config_explicit;

static void usage(FILE *f)
{
	fprintf(f, "usage: netd [--socket PATH] [--state-dir DIR] [--config FILE] [--log-level LEVEL]\n"
		   "\n"
		   "  --socket PATH      API socket (default " NETD_DEFAULT_SOCKET ")\n"
		   "  --state-dir DIR    persistent state (default " NETD_DEFAULT_STATE_DIR ")\n"
		   "  --config FILE      settings file (default " NETD_DEFAULT_CONFIG ", if present)\n"
		   "  --log-level LEVEL  err, warn, info or debug (default info)\n"
		   "See netd(8) / docs/netd.md.\n");
}

static int build_config(struct netd_config *c, struct netd_err *err)
{
	int rc;

	netd_config_defaults(c);
	rc = netd_config_load(c, config_path, err);
	if (rc == -ENOENT && !config_explicit) {
		memset(err, 0, sizeof(*err));
		rc = 0;
	}
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n_overrides; i++)
		if ((rc = netd_config_set(c, overrides[i].key, overrides[i].value, err)) < 0)
			return rc;
	return 0;
}

static int apply_socket_group(const struct netd_config *c)
{
	struct group *g;

	if (!c->socket_group[0])
		return 0;
	if (!(g = getgrnam(c->socket_group))) {
		log_err("socket_group: no group '%s'", c->socket_group);
		return -ENOENT;
	}
	if (chown(c->socket, (uid_t)-1, g->gr_gid) < 0) {
		log_err("chown %s: %s", c->socket, strerror(errno));
		return -errno;
	}
	return 0;
}

/* NETD_LOG_LEVEL in the environment wins over the configured level. */
static enum netd_log_level log_level(int configured)
{
	int env = netd_log_level_parse(getenv("NETD_LOG_LEVEL"));

	return (enum netd_log_level)(env >= 0 ? env : configured);
}

/* The directory the socket goes in, made like mkdir -p. */
static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!(slash = strrchr(dir, '/')) || slash == dir)
		return 0;
	*slash = 0;
	return netd_mkdir_p(dir, 0755);
}

/* Bind the API socket ourselves, so its mode is 0660 before anyone can connect
 * and a live netd on the same path is detected instead of being stolen from. */
static int listen_unix(const char *path, struct stat *st)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, probe;
	mode_t old;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = mkdir_parent(path)) < 0) {
		log_err("cannot create the directory of %s: %s", path, strerror(-fd));
		return -1;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		log_err("another netd is already serving %s", path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path); /* stale socket of a netd that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		log_err("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	/* a deep backlog: connecting never blocks while netd sheds a flood */
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0 || stat(path, st) < 0) {
		log_err("listen %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* netd's open-file limit bounds its connections and its DNS sockets, two
 * per container: 10,000 containers are 20,000 descriptors, past many a
 * shell's hard limit. Root (CAP_SYS_RESOURCE) may raise the hard limit to
 * the kernel's ceiling, fs.nr_open; without that, take all the hard limit
 * allows (the unit sets LimitNOFILE). */
static void raise_nofile(void)
{
	struct rlimit rl, want;
	unsigned long long ceiling = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%llu", &ceiling) != 1)
			ceiling = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (ceiling > rl.rlim_max) {
		want.rlim_cur = want.rlim_max = (rlim_t)ceiling;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	if (rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the open-file limit to %llu: %s", (unsigned long long)rl.rlim_max,
			 strerror(errno));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conns_configure(struct netd_conns *t, const struct netd_config *c)
{
	t->max = c->max_conns;
	t->max_per_uid = c->max_conns_per_uid;
	t->timeout_ms = c->request_timeout_ms;
}

/* MHD's own bound: the largest max_connections a reload may set, plus the
 * connections already dropped by the table that MHD has not closed yet. */
#define MHD_CONN_LIMIT (65536 + 2 * ACCEPT_BATCH)
#define ACCEPT_BATCH 64

static struct loop {
	struct netd_daemon *d;
	struct MHD_Daemon *mhd;
	int efd, lfd;
	int reserve_fd;		/* spare fd for shedding a connection at EMFILE */
	uint64_t last_emfile_log;
} L = {.efd = -1, .lfd = -1, .reserve_fd = -1};

/* Close a dropped connection: ours (a refused peer) at once; MHD's by shutting
 * it down, so that MHD sees the end, closes it and tells the table. */
static void conn_drop(int fd)
{
	const struct netd_conn *c = netd_conns_get(&L.d->conns, fd);

	if (c && c->refused) {
		close(fd);
		netd_conns_del(&L.d->conns, fd);
	} else {
		shutdown(fd, SHUT_RDWR);
	}
}

#define REFUSED_BODY "{\"error\":\"permission denied: uid not allowed by netd.conf\"}"
static const char refused_resp[] = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
				   "Connection: close\r\nContent-Length: %zu\r\n\r\n" REFUSED_BODY;

/* A peer that may not use the API: answered before a byte of its request is
 * read. Closing at once could turn the answer into a reset for a client still
 * writing, so the connection drains (discarded) until the client closes it or
 * its deadline passes, counted against its uid like any other. */
static void refuse(int fd, const struct ucred *cr)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
	char resp[256];
	int evict, len = snprintf(resp, sizeof(resp), refused_resp, strlen(REFUSED_BODY));

	log_info("connection from pid=%d uid=%u gid=%u refused (not in allow_uids/allow_gids)", (int)cr->pid,
		 (unsigned)cr->uid, (unsigned)cr->gid);
	L.d->stats.by_code[403]++;
	if (write(fd, resp, (size_t)len) < 0 || shutdown(fd, SHUT_WR) < 0 ||
	    netd_conns_add(&L.d->conns, fd, cr->uid, true, now_ms(), &evict) < 0) {
		close(fd);
		return;
	}
	if (evict >= 0)
		conn_drop(evict);
	if (epoll_ctl(L.efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		netd_conns_del(&L.d->conns, fd);
	}
}

static void drain_refused(int fd)
{
	const struct netd_conn *c = netd_conns_get(&L.d->conns, fd);
	char buf[4096];
	ssize_t n;

	/* an event of this same wake-up may be stale: the fd closed (evicted)
	 * and its number taken by a connection MHD now owns */
	if (!c || !c->refused || c->state == NETD_CONN_FREE || c->state == NETD_CONN_DROPPED)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || errno != EAGAIN) {
		close(fd);
		netd_conns_del(&L.d->conns, fd);
	}
}

/* Take what the listening socket has (a batch, so one busy client cannot hold
 * the loop), check each peer, and hand the allowed ones to MHD. */
static void accept_batch(void)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_un sa;
		socklen_t salen = sizeof(sa);
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		int fd = accept4(L.lfd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC), evict;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* out of fds: shed this one rather than spin on it */
				uint64_t now = now_ms();

				if (now - L.last_emfile_log > 10000) {
					log_warn("accept: %s; shedding connections", strerror(errno));
					L.last_emfile_log = now;
				}
				if (L.reserve_fd >= 0) {
					close(L.reserve_fd);
					fd = accept4(L.lfd, NULL, NULL, SOCK_CLOEXEC);
					if (fd >= 0)
						close(fd);
					L.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				}
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0) {
			log_warn("cannot read a peer's credentials (%s): connection closed", strerror(errno));
			close(fd);
			continue;
		}
		if (!netd_config_peer_allowed(&L.d->cfg, cr.uid, cr.gid)) {
			refuse(fd, &cr);
			continue;
		}
		if (netd_conns_add(&L.d->conns, fd, cr.uid, false, now_ms(), &evict) < 0) {
			log_warn("no room for a connection from pid=%d uid=%u: closed", (int)cr.pid, (unsigned)cr.uid);
			close(fd);
			continue;
		}
		if (evict >= 0) {
			log_debug("uid %u: connection limit, the oldest waiting connection is closed",
				  (unsigned)netd_conns_get(&L.d->conns, evict)->uid);
			conn_drop(evict);
		}
		if (netd_http_add(L.mhd, fd, (struct sockaddr *)&sa, salen) < 0) {
			/* MHD closed it */
			netd_conns_del(&L.d->conns, fd);
			log_warn("the HTTP server refused a connection from pid=%d uid=%u", (int)cr.pid,
				 (unsigned)cr.uid);
		}
	}
}

/* Whether it closed any. */
static bool expire_conns(void)
{
	bool any = false;
	int fd;

	while ((fd = netd_conns_expired(&L.d->conns, now_ms())) >= 0) {
		log_debug("connection of uid %u: no whole request within %u ms, closed",
			  (unsigned)netd_conns_get(&L.d->conns, fd)->uid, L.d->conns.timeout_ms);
		conn_drop(fd);
		any = true;
	}
	return any;
}

/* The listening socket systemd passed (netd.socket), or -1 if none; -2 after
 * logging why it cannot be used. Its path becomes the socket netd reports. It
 * stays systemd's: netd neither replaces nor removes it, so connections made
 * while netd is down wait in its backlog and start netd. */
static int activated_socket(struct netd_config *c)
{
	struct sockaddr_un sa = {0};
	socklen_t salen = sizeof(sa);
	int n = sd_listen_fds(1), fd = SD_LISTEN_FDS_START;

	if (n <= 0) {
		if (n < 0)
			log_warn("socket activation: %s; binding the socket myself", strerror(-n));
		return -1;
	}
	if (n > 1) {
		log_err("socket activation: systemd passed %d sockets, netd takes exactly one", n);
		return -2;
	}
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_err("socket activation: the socket systemd passed is not a listening unix stream socket");
		return -2;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		log_err("socket activation: %s", strerror(errno));
		return -2;
	}
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 && sa.sun_path[0] == '/') {
		if (strcmp(sa.sun_path, c->socket))
			log_info("socket activation: serving %s, not the configured %s", sa.sun_path, c->socket);
		snprintf(c->socket, sizeof(c->socket), "%s", sa.sun_path);
	}
	return fd;
}

static void state_warn(const char *msg)
{
	log_warn("state: %s", msg);
}

static void fw_warn(const char *msg)
{
	log_warn("nftables: %s", msg);
}

/* The sooner of two timeouts, -1 meaning none. */
/* How often endpoints whose netns path is gone are looked for (a stat per
 * endpoint: about 10 ms for 10,000) */
#define REAP_MS 10000

static int sooner(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static void reload(struct netd_daemon *d)
{
	struct netd_config c;
	struct netd_err err = {0};

	sd_notify(0, "RELOADING=1");
	if (build_config(&c, &err) < 0) {
		log_err("reload: %s; keeping the old settings", err.msg);
	} else {
		if (strcmp(c.socket, d->cfg.socket) || strcmp(c.state_dir, d->cfg.state_dir))
			log_warn("reload: socket and state_dir changes take effect at the next restart");
		snprintf(c.socket, sizeof(c.socket), "%s", d->cfg.socket);
		snprintf(c.state_dir, sizeof(c.state_dir), "%s", d->cfg.state_dir);
		if (d->dns && c.dns_cache != d->cfg.dns_cache && netd_dns_cache_size(d, c.dns_cache) < 0) {
			log_warn("reload: no memory for a DNS cache of %u answers; keeping the old one", c.dns_cache);
			c.dns_cache = d->cfg.dns_cache;
		}
		if (d->dns)
			netd_dns_ttl(d, c.dns_ttl);
		d->cfg = c;
		d->state->sync = c.sync;
		conns_configure(&d->conns, &c);
		netd_log_init("netd", log_level(c.log_level));
		apply_socket_group(&c);
		log_info("configuration reloaded");
	}
	sd_notify(0, "READY=1");
}

static void arm_timer(int tfd, struct MHD_Daemon *mhd)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct itimerspec its = {0};

	if (MHD_get_timeout(mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000L;
		if (!ms)
			its.it_value.tv_nsec = 1; /* 0 would disarm */
	}
	timerfd_settime(tfd, 0, &its, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	static struct netd_daemon d;
	struct netd_err err = {0};
	struct MHD_Daemon *mhd = NULL;
	struct netd_cnit *cnit = NULL;
	const union MHD_DaemonInfo *info;
	struct epoll_event ev;
	struct stat sock_st;
	sigset_t mask;
	size_t dropped = 0;
	uint64_t reap_at;
	int opt, sfd = -1, tfd = -1, efd = -1, lfd = -1, status = 1, rc;
	bool stop = false, sock_ours = false;

	config_path = NETD_DEFAULT_CONFIG;
	while ((opt = getopt_long(argc, argv, "s:d:c:l:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			overrides[n_overrides++] = (struct override){"socket", optarg};
			break;
		case 'd':
			overrides[n_overrides++] = (struct override){"state_dir", optarg};
			break;
		case 'l':
			overrides[n_overrides++] = (struct override){"log_level", optarg};
			break;
		case 'c':
			config_path = optarg;
			config_explicit = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("netd %s\n", NETD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (n_overrides == sizeof(overrides) / sizeof(overrides[0])) {
			fprintf(stderr, "netd: too many options\n");
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (build_config(&d.cfg, &err) < 0) {
		fprintf(stderr, "netd: %s\n", err.msg);
		return 2;
	}
	netd_log_init("netd", log_level(d.cfg.log_level));
	d.stats.started = time(NULL);
	raise_nofile();
	netd_conns_init(&d.conns);
	conns_configure(&d.conns, &d.cfg);
	L.d = &d;
	L.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    (efd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_err("event loop setup: %s", strerror(errno));
		goto out;
	}

	netd_state_warn = state_warn;
	if (netd_state_open(d.cfg.state_dir, &d.state, &dropped, &err) < 0) {
		log_err("%s", err.msg);
		goto out;
	}
	d.state->sync = d.cfg.sync;
	if (dropped)
		log_info("dropped %zu endpoints whose network namespace is gone", dropped);
	log_info("state: %zu networks, %zu endpoints from %s", d.state->n_nets, d.state->n_eps,
		 d.cfg.state_dir);
	/* every record in; the listeners follow in the loop (netd_dns_restore) */
	if (netd_dns_start(&d, &err) < 0) {
		log_err("%s", err.msg);
		goto out;
	}

	if (netd_fw_open(&d.fw, d.cfg.nft_table, d.state, fw_warn, &err) < 0) {
		log_err("table inet %s: %s", d.cfg.nft_table, err.msg);
		goto out;
	}
	log_info("table inet %s: %zu published ports", d.cfg.nft_table, netd_fw_published(d.fw));
	if (netd_cnit_open(&cnit, fw_warn, &err) < 0) {
		log_err("tables inet/bridge %s: %s", NETD_NFT_CNI_TABLE, err.msg);
		goto out;
	}
	log_info("tables inet/bridge %s: watched, %zu elements of the plugins copied", NETD_NFT_CNI_TABLE,
		 netd_cnit_copied(cnit));

	if (!(mhd = netd_http_start(&d, MHD_CONN_LIMIT, &err))) {
		log_err("%s", err.msg);
		goto out;
	}
	L.mhd = mhd;
	L.efd = efd;
	if ((lfd = activated_socket(&d.cfg)) == -2)
		goto out;
	if (lfd >= 0) {
		log_info("API socket %s from systemd (socket activation)", d.cfg.socket);
	} else {
		if ((lfd = listen_unix(d.cfg.socket, &sock_st)) < 0)
			goto out;
		sock_ours = true;
	}
	L.lfd = lfd;
	apply_socket_group(&d.cfg);
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = netd_fw_fd(d.fw);
	epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = netd_cnit_fd(cnit);
	epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = lfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = info->epoll_fd;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, info->epoll_fd, &ev) < 0) {
		log_err("epoll: %s", strerror(errno));
		goto out;
	}
	if ((rc = netd_dns_nest(&d, efd)) < 0) {
		log_err("epoll: %s", strerror(-rc));
		goto out;
	}
	log_info("listening on %s", d.cfg.socket);
	sd_notifyf(0, "READY=1\nSTATUS=serving %zu endpoints on %zu networks\nMAINPID=%d", d.state->n_eps,
		   d.state->n_nets, (int)getpid());

	reap_at = now_ms() + REAP_MS;
	while (!stop) {
		struct epoll_event evs[8];
		unsigned long compactions = d.state->n_compactions;
		/* MHD runs only when it has something to do: a DNS turn costs a
		 * few system calls, and MHD's run would add two more of its own */
		bool http = false;
		/* the wait is the resolver's (the loop's epoll fd is nested in it):
		 * DNS sockets and c-ares' timeouts are served there, and the
		 * loop's own sources are looked at only when one is ready */
		int n = 0, r = netd_dns_wait(&d, sooner(sooner(sooner(netd_state_timeout_ms(d.state),
									 netd_dns_timeout_ms(&d)),
								  sooner(netd_fw_timeout_ms(d.fw),
									 netd_cnit_timeout_ms(cnit))),
							   sooner(netd_conns_timeout_ms(&d.conns, now_ms()),
								  reap_at > now_ms() ? (int)(reap_at - now_ms()) : 0)));

		if (r > 0 && (n = epoll_wait(efd, evs, 8, 0)) < 0) {
			r = errno == EINTR ? 0 : -errno;
			n = 0;
		}
		if (r < 0) {
			log_err("epoll_wait: %s", strerror(-r));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;

				http = true;
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						reload(&d);
					} else {
						log_info("%s: shutting down, state kept",
							 si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
						stop = true;
					}
				}
			} else if (evs[i].data.fd == netd_fw_fd(d.fw)) {
				netd_fw_event(d.fw);
			} else if (evs[i].data.fd == netd_cnit_fd(cnit)) {
				netd_cnit_event(cnit);
			} else if (evs[i].data.fd == tfd) {
				uint64_t x;

				http = true;
				if (read(tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
					log_warn("timerfd: %s", strerror(errno));
			} else if (evs[i].data.fd == lfd) {
				http = true;
				if (!stop)
					accept_batch();
			} else if (evs[i].data.fd == info->epoll_fd) {
				http = true;
			} else {
				drain_refused(evs[i].data.fd);
			}
		}
		/* after a start: a slice of the listeners still to reopen */
		netd_dns_restore(&d);
		/* deadlines first, so that MHD sees those connections end in this run */
		if (expire_conns())
			http = true;
		if (!stop && http) {
			MHD_run(mhd);
			arm_timer(tfd, mhd);
		}
		/* the batch fdatasync and journal compaction; problems are logged
		 * through state_warn and never stop the loop */
		netd_state_tick(d.state, &(struct netd_err){0});
		netd_fw_tick(d.fw);
		netd_cnit_tick(cnit);
		/* containers that died without a DEL (a runtime killed, a reboot
		 * of the runtime's state but not ours): their ports, names and
		 * listeners go, as they would at the next start */
		if (now_ms() >= reap_at) {
			size_t gone = netd_api_reap_gone(&d);

			if (gone)
				log_info("dropped %zu endpoints whose network namespace is gone", gone);
			reap_at = now_ms() + REAP_MS;
		}
		if (d.state->n_compactions != compactions)
			log_debug("state: compacted, snapshot of %zu endpoints in %.0f ms", d.state->n_eps,
				  d.state->last_compact_ms);
	}
	status = 0;
out:
	sd_notify(0, "STOPPING=1");
	if (mhd)
		MHD_stop_daemon(mhd);
	if (lfd >= 0)
		close(lfd);
	if (sock_ours) {
		struct stat now;

		/* remove the socket only if it is still ours (not a successor's) */
		if (stat(d.cfg.socket, &now) == 0 && now.st_ino == sock_st.st_ino && now.st_dev == sock_st.st_dev)
			unlink(d.cfg.socket);
	}
	netd_dns_stop(&d);
	netd_cnit_free(cnit);
	netd_fw_free(d.fw);
	netd_conns_fini(&d.conns);
	netd_state_free(d.state);
	if (efd >= 0)
		close(efd);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	return status;
}
