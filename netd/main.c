/* netd — the daemon: one thread, one epoll loop.
 *
 * Sources on the loop: a signalfd (SIGTERM/SIGINT stop cleanly keeping state,
 * SIGHUP reloads the config), libmicrohttpd's epoll fd (the API), and a
 * timerfd armed with MHD's next timeout. No locks, because nothing else runs.
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "fw.h"
#include "netd/log.h"

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
	if (chmod(path, 0660) < 0 || listen(fd, 256) < 0 || stat(path, st) < 0) {
		log_err("listen %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
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
		d->cfg = c;
		d->state->sync = c.sync;
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
	const union MHD_DaemonInfo *info;
	struct epoll_event ev;
	struct stat sock_st;
	sigset_t mask;
	size_t dropped = 0;
	int opt, sfd = -1, tfd = -1, efd = -1, lfd, status = 1;
	bool stop = false;

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
	/* every listener back before netd says it is ready */
	if (netd_dns_start(&d, &err) < 0) {
		log_err("%s", err.msg);
		goto out;
	}

	if (netd_fw_open(&d.fw, d.cfg.nft_table, d.state, fw_warn, &err) < 0) {
		log_err("table inet %s: %s", d.cfg.nft_table, err.msg);
		goto out;
	}
	log_info("table inet %s: %zu published ports", d.cfg.nft_table, netd_fw_published(d.fw));

	if ((lfd = listen_unix(d.cfg.socket, &sock_st)) < 0)
		goto out;
	apply_socket_group(&d.cfg);
	if (!(mhd = netd_http_start(&d, lfd, &err))) {
		log_err("%s", err.msg);
		close(lfd);
		unlink(d.cfg.socket);
		goto out;
	}
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = netd_dns_fd(&d);
	epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = netd_fw_fd(d.fw);
	epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = info->epoll_fd;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, info->epoll_fd, &ev) < 0) {
		log_err("epoll: %s", strerror(errno));
		goto out;
	}
	log_info("listening on %s", d.cfg.socket);
	sd_notifyf(0, "READY=1\nSTATUS=serving %zu endpoints on %zu networks\nMAINPID=%d", d.state->n_eps,
		   d.state->n_nets, (int)getpid());

	while (!stop) {
		struct epoll_event evs[8];
		bool run_http = false;
		unsigned long compactions = d.state->n_compactions;
		int n = epoll_wait(efd, evs, 8, sooner(sooner(netd_state_timeout_ms(d.state), netd_dns_timeout_ms(&d)),
						       netd_fw_timeout_ms(d.fw)));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;

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
			} else if (evs[i].data.fd == tfd) {
				uint64_t x;

				if (read(tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
					log_warn("timerfd: %s", strerror(errno));
				run_http = true;
			} else if (evs[i].data.fd != netd_dns_fd(&d)) {
				run_http = true;
			}
		}
		/* DNS sockets, and c-ares' upstream timeouts */
		netd_dns_run(&d);
		if (run_http && !stop) {
			MHD_run(mhd);
			arm_timer(tfd, mhd);
		}
		/* the batch fdatasync and journal compaction; problems are logged
		 * through state_warn and never stop the loop */
		netd_state_tick(d.state, &(struct netd_err){0});
		netd_fw_tick(d.fw);
		if (d.state->n_compactions != compactions)
			log_debug("state: compacted, snapshot of %zu endpoints in %.0f ms", d.state->n_eps,
				  d.state->last_compact_ms);
	}
	status = 0;
out:
	sd_notify(0, "STOPPING=1");
	if (mhd) {
		struct stat now;

		MHD_stop_daemon(mhd);
		/* remove the socket only if it is still ours (not a successor's) */
		if (stat(d.cfg.socket, &now) == 0 && now.st_ino == sock_st.st_ino && now.st_dev == sock_st.st_dev)
			unlink(d.cfg.socket);
	}
	netd_dns_stop(&d);
	netd_fw_free(d.fw);
	netd_state_free(d.state);
	if (efd >= 0)
		close(efd);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	return status;
}
