/* daemon.h — the inside of netd, shared by its modules, the unit tests and the
 * fuzz target.
 *
 * netd is one thread around one epoll loop (main.c). It keeps the dynamic state
 * of every network — networks and the endpoints containers registered — in
 * memory (state.c; records, journal, compaction and loading in
 * state_record.c, state_journal.c, state_compact.c, state_load.c). Every endpoint change is appended to a journal under the
 * state dir with one write(2) before the API acknowledges it, so a kill -9 at
 * any moment loses nothing that was answered (the page cache outlives the
 * process); how soon it also survives a power loss is the `sync` setting. The HTTP API (api.c) is a pure function
 * from a request to a response, independent of libmicrohttpd (http.c only
 * glues the two), so tests and the fuzzer call it directly.
 *
 * Ownership: a struct netd_state owns its records; records handed out by the
 * lookup functions are borrowed and valid until the next change.
 * Errors: negative errno, with struct netd_err filled (err.h: the code is an
 * error code like everywhere else; the API answers with its HTTP status,
 * netd_err_http_status).
 */
#ifndef NETD_DAEMON_H
#define NETD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <limits.h>
#include <jansson.h>

#include "netd/err.h"
#include "netd/util.h"
#include "conn.h"

#define NETD_VERSION "0.1.0"
#define NETD_DEFAULT_SOCKET "/run/netd/netd.sock"
#define NETD_DEFAULT_STATE_DIR "/var/lib/netd"
#ifndef NETD_SYSCONFDIR
#define NETD_SYSCONFDIR "/etc"
#endif
#define NETD_DEFAULT_CONFIG NETD_SYSCONFDIR "/netd/netd.conf"
/* 10,000 port mappings of one endpoint are ~700 KB of JSON */
#define NETD_BODY_MAX_DEFAULT (4 * 1024 * 1024)
#define NETD_ALLOW_MAX 32
/* the resolver's answer cache, in entries (dns/ uses the same default) */
#define NETD_DNS_CACHE_DEFAULT 4096
#define NETD_DNS_TTL_DEFAULT 600	/* as Docker's embedded resolver */

/* ---- config (config.c) -------------------------------------------------- */

struct netd_config {
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char socket_group[64];		/* "" = leave the socket root's group */
	char state_dir[PATH_MAX];
	int log_level;			/* enum netd_log_level */
	uid_t allow_uids[NETD_ALLOW_MAX];
	size_t n_allow_uids;
	gid_t allow_gids[NETD_ALLOW_MAX];
	size_t n_allow_gids;
	size_t max_body;		/* request bodies above it get 413 */
	unsigned max_conns;		/* API connections held at once (conn.h) */
	unsigned max_conns_per_uid;	/* ... by one peer uid */
	unsigned request_timeout_ms;	/* a whole request must arrive within it */
	int sync;			/* enum netd_sync for the endpoint journal (default batch) */
	char nft_table[33];		/* netd's table in family inet (default "netd") */
	unsigned dns_cache;		/* forwarded answers the resolver keeps (0: none) */
	unsigned dns_ttl;		/* the TTL of the resolver's own answers */
};

void netd_config_defaults(struct netd_config *c);
/* Set one key ("socket", "state_dir", "log_level", "allow_uids", ...).
 * Unknown key or bad value: -EINVAL, err set. */
int netd_config_set(struct netd_config *c, const char *key, const char *value, struct netd_err *err);
/* Parse a "key = value" file ('#' comments, blank lines). A missing file is
 * -ENOENT with err set; the caller decides whether that matters. */
int netd_config_load(struct netd_config *c, const char *path, struct netd_err *err);
/* Is a peer with these credentials allowed to use the API? root always is. */
bool netd_config_peer_allowed(const struct netd_config *c, uid_t uid, gid_t gid);

/* ---- state (state.c) ---------------------------------------------------- */

/* An endpoint: one interface of one container on one network. Its id is
 * "<network>:<containerID>:<ifname>" — no part may contain ':' or '/', so the
 * id is unique, readable, computable by clients, and safe as a file name. */
struct netd_ep {
	char *id;
	char *container_id;
	char *network;
	char *ifname;
	char *name;		/* container name, may be "" */
	char *netns;
	char *json;		/* the whole record, compact, as persisted and served */
	struct netd_ep *hnext;	/* hash chain */
	struct netd_ep *prev, *next; /* registration order */
};

struct netd_net {
	char *name;
	char *json;		/* the record without the live "endpoints" count */
	bool implicit;		/* created by an endpoint registration, not by the API */
	size_t n_eps;
	struct netd_net *next;
};

/* When an acknowledged endpoint change reaches the disk itself (not only the
 * page cache, which is all a kill -9 needs): */
enum netd_sync {
	NETD_SYNC_NEVER,	/* when the kernel writes back (~30 s) */
	NETD_SYNC_BATCH,	/* fdatasync at most 100 ms after the first unsynced change */
	NETD_SYNC_ALWAYS,	/* fdatasync before every answer */
};
#define NETD_SYNC_BATCH_MS 100
/* Compact when the journal holds more records than this and than live endpoints. */
#define NETD_COMPACT_MIN_DEFAULT 1024

/* Endpoints on disk (networks stay one fsynced file each, networks/NAME.json):
 *   endpoints.GEN.snap  every live endpoint at the end of journal GEN; appears
 *                       by write-temp + fsync + rename + fsync(dir) only
 *   endpoints.GEN.log   journal: one record per change, appended with one write
 * Load = the newest snapshot + the journals newer than it, in order. A record
 * is "OP LEN CRC PAYLOAD\n" (OP 'P' put / 'D' delete / 'H' header, LEN and
 * CRC 8 hex digits, CRC32 of OP and PAYLOAD), so a torn or corrupt tail is
 * detected, dropped with a warning, and never followed by new appends.
 * Compaction starts a new journal, then a forked child writes the snapshot of
 * the state at that instant from its copy-on-write memory, so the loop never
 * waits for the disk; when it exits 0 the older files are removed. */
struct netd_state {
	char *dir;		/* NULL = memory only (tests, fuzzing) */
	int dirfd, dirfd_nets;
	struct netd_ep **tab;	/* hash table of endpoints by id */
	size_t tab_size, n_eps;
	struct netd_ep *first, *last;
	struct netd_net *nets;
	size_t n_nets;
	int sync;		/* enum netd_sync; the caller may change it at any time */
	size_t compact_min;	/* NETD_COMPACT_MIN_DEFAULT; tests lower it */
	/* the journal being appended to */
	int jfd;
	unsigned long long jgen;
	size_t j_records;	/* in journals newer than the last snapshot */
	off_t j_size;
	bool j_broken;		/* a failed append could not be undone: rotate first */
	bool dirty;		/* appended since the last fdatasync */
	uint64_t dirty_since_ms;
	bool want_compact;	/* a torn journal to retire, or a failed compaction */
	uint64_t compact_after_ms; /* no attempt before (backoff after a failure) */
	pid_t child;		/* compaction in progress, or 0 */
	unsigned long long child_gen;
	uint64_t child_started_ms;
	/* Problems that did not stop anything (torn journal tail, a record that
	 * no longer validates, a failed compaction): counted, the last one kept
	 * for the daemon to log. */
	unsigned long n_warnings;
	char warning[NETD_ERR_MSG_MAX];
	unsigned long n_compactions;
	double last_compact_ms;	/* fork to the child's exit, as seen by the loop */
};

/* Called with every warning as it happens (NULL: none), e.g. to log it. */
extern void (*netd_state_warn)(const char *msg);

/* Open (creating dirs 0700) and load the state under dir, dropping endpoints
 * whose netns path is gone (*dropped counts them). dir NULL: empty, memory only. */
int netd_state_open(const char *dir, struct netd_state **out, size_t *dropped, struct netd_err *err);
/* Waits for a running compaction and syncs the journal, then frees. */
void netd_state_free(struct netd_state *s);
/* Housekeeping for the loop, cheap when there is nothing to do: the batch
 * fdatasync when due, reaping a finished compaction, starting one when due.
 * netd_state_timeout_ms: when to call it next at the latest (-1: no need). */
int netd_state_tick(struct netd_state *s, struct netd_err *err);
int netd_state_timeout_ms(const struct netd_state *s);
/* Compact now and wait for it (tests, tools); a compaction already running
 * is waited for first. */
int netd_state_compact(struct netd_state *s, struct netd_err *err);

/* Validate a register body and build the endpoint (not stored); err->code CNI_ERR_INVALID_CONFIG (HTTP 400). */
int netd_ep_from_json(const json_t *body, struct netd_ep **out, struct netd_err *err);
void netd_ep_free(struct netd_ep *ep);
/* Store ep (taking ownership), replacing one with the same id; persisted
 * before returning. *replaced tells whether one existed. */
int netd_state_put_ep(struct netd_state *s, struct netd_ep *ep, bool *replaced, struct netd_err *err);
struct netd_ep *netd_state_get_ep(const struct netd_state *s, const char *id);
/* Remove and unpersist; -ENOENT if absent. */
int netd_state_del_ep(struct netd_state *s, const char *id, struct netd_err *err);

int netd_net_from_json(const json_t *body, struct netd_net **out, struct netd_err *err);
void netd_net_free(struct netd_net *n);
/* -EEXIST (NETD_ERR_IN_USE, HTTP 409) if an explicit network of that name exists; an implicit one
 * is upgraded. */
int netd_state_put_net(struct netd_state *s, struct netd_net *n, struct netd_err *err);
struct netd_net *netd_state_get_net(const struct netd_state *s, const char *name);
/* -ENOENT (NETD_ERR_NOT_FOUND), -EBUSY (NETD_ERR_IN_USE) while endpoints are registered on it. */
int netd_state_del_net(struct netd_state *s, const char *name, struct netd_err *err);

/* Names are checked with netd/util.h: netd_name_valid, netd_cid_valid,
 * netd_ifname_valid. */
/* Endpoint id from its parts into buf; -ENAMETOOLONG if it does not fit. */
int netd_ep_id(char *buf, size_t size, const char *network, const char *cid, const char *ifname);

/* ---- API (api.c) -------------------------------------------------------- */

struct netd_stats {
	unsigned long long by_code[600];	/* API answers by HTTP status */
	time_t started;
};

struct dns_server;
struct netd_fw;

struct netd_daemon {
	struct netd_config cfg;
	struct netd_state *state;
	struct netd_fw *fw;		/* table inet netd (fw.h); NULL in tests without nftables */
	struct netd_stats stats;
	struct netd_conns conns;	/* API connections: bounds and deadlines (conn.h) */
	bool shutting_down;
	/* The resolver (dns.c, only in the netd binary): NULL in tests. The API
	 * calls the hooks after every stored register / unregister. */
	struct dns_server *dns;
	char dns_listen_err[256];	/* why the last listener could not be opened */
	void (*on_ep_put)(struct netd_daemon *d, const struct netd_ep *ep);
	void (*on_ep_del)(struct netd_daemon *d, const char *id);
	/* endpoints whose container has no listener (0: none); *why: the last reason */
	size_t (*dns_unserved)(const struct netd_daemon *d, const char **why);
	/* the resolver's metrics as Prometheus text (malloc'd), for /metrics */
	char *(*dns_metrics)(struct netd_daemon *d);
	/* GET /v1/dns: what a query from `view` (a netns path) for name would get
	 * and why, as JSON (*out; docs/netd.md). type "A", "AAAA", "PTR", "ANY"
	 * or NULL (A; PTR when name is an address). Bad input: -EINVAL with
	 * CNI_ERR_INVALID_CONFIG (HTTP 400). */
	int (*dns_explain)(struct netd_daemon *d, const char *view, const char *name, const char *type, json_t **out,
			   struct netd_err *err);
	/* GET /v1/status: the resolver's fields added to j */
	void (*dns_status)(struct netd_daemon *d, json_t *j);
	uint64_t dns_restore_from;	/* CLOCK_MONOTONIC ms when the restore began; 0: done */
};

/* ---- DNS (dns.c) -------------------------------------------------------- */

/* Start the resolver: the records of every endpoint the state holds, its
 * container's listener waiting for netd_dns_restore(), and the hooks above.
 * Stop undoes it. */
int netd_dns_start(struct netd_daemon *d, struct netd_err *err);
void netd_dns_stop(struct netd_daemon *d);
/* Reopen waiting listeners for a few ms; the loop calls it on every turn
 * (netd_dns_timeout_ms is 0 while some wait). */
void netd_dns_restore(struct netd_daemon *d);
/* For the loop, which waits in the resolver's epoll with its own epoll fd
 * nested there (DNS is the busy part: one epoll_wait a turn): nest the loop's
 * fd once; wait serves DNS and says whether the loop's fd is ready (1), not
 * (0) or epoll failed (-errno). timeout: when the resolver needs to run at
 * the latest (-1: no need). */
int netd_dns_nest(struct netd_daemon *d, int fd);
int netd_dns_wait(struct netd_daemon *d, int timeout_ms);
int netd_dns_timeout_ms(struct netd_daemon *d);
/* A new, empty answer cache of that many entries (config dns_cache). */
int netd_dns_cache_size(struct netd_daemon *d, unsigned entries);
/* The TTL the resolver's own answers carry from now on (config dns_ttl). */
void netd_dns_ttl(struct netd_daemon *d, unsigned ttl);

struct api_req {
	const char *method;
	const char *path;		/* decoded, without the query string */
	const char *q_network;		/* ?network= for GET /v1/endpoints, or NULL */
	const char *q_name, *q_from, *q_type;	/* ?name= &from= &type= for GET /v1/dns, or NULL */
	const char *body;
	size_t body_len;
};

struct api_resp {
	int status;
	char *body;			/* malloc'd, may be NULL */
	const char *content_type;
	const char *allow;		/* for 405 */
};

/* Answer one request. Never fails: every problem becomes a status + JSON
 * error body. The caller frees resp->body. */
void netd_api_handle(struct netd_daemon *d, const struct api_req *req, struct api_resp *resp);
/* Unregister every endpoint whose netns path is gone (the container died and
 * its runtime will never DEL it), as DELETE would: ports, DNS, state.
 * Returns how many. The loop calls it now and then; a port conflict calls it
 * before refusing, so a dead holder never keeps a port. */
size_t netd_api_reap_gone(struct netd_daemon *d);
void netd_api_error(struct api_resp *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- HTTP glue (http.c, only in the netd binary) ----------------------- */

struct MHD_Daemon;
/* Serve the API on connections the caller accepts and hands over with
 * netd_http_add, driven by the caller's loop (MHD_USE_EPOLL without threads;
 * see main.c). MHD holds at most max_conns connections. */
struct MHD_Daemon *netd_http_start(struct netd_daemon *d, unsigned max_conns, struct netd_err *err);
/* Hand an accepted connection to MHD, which owns (and closes) fd from here,
 * also when this fails (-EIO). */
int netd_http_add(struct MHD_Daemon *mhd, int fd, const struct sockaddr *sa, socklen_t salen);

#endif
