/* daemon.h — the inside of netd, shared by its modules, the unit tests and the
 * fuzz target.
 *
 * netd is one thread around one epoll loop (main.c). It keeps the dynamic state
 * of every network — networks and the endpoints containers registered — in
 * memory (state.c) and persists each record as its own small file under the
 * state dir before the API acknowledges a change, so a kill -9 at any moment
 * loses nothing that was answered. The HTTP API (api.c) is a pure function
 * from a request to a response, independent of libmicrohttpd (http.c only
 * glues the two), so tests and the fuzzer call it directly.
 *
 * Ownership: a struct netd_state owns its records; records handed out by the
 * lookup functions are borrowed and valid until the next change.
 * Errors: negative errno, with struct netd_err filled; err.code here is an
 * HTTP status (400, 404, 409, 500), not a CNI code.
 */
#ifndef NETD_DAEMON_H
#define NETD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include <limits.h>
#include <jansson.h>

#include "netd/err.h"

#define NETD_VERSION "0.1.0"
#define NETD_DEFAULT_SOCKET "/run/netd/netd.sock"
#define NETD_DEFAULT_STATE_DIR "/var/lib/netd"
#define NETD_DEFAULT_CONFIG "/etc/netd/netd.conf"
#define NETD_BODY_MAX_DEFAULT (64 * 1024)
#define NETD_ALLOW_MAX 32

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
	bool sync_endpoints;		/* fsync endpoint records (default yes) */
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

struct netd_state {
	char *dir;		/* NULL = memory only (tests, fuzzing) */
	int dirfd_eps, dirfd_nets;
	struct netd_ep **tab;	/* hash table of endpoints by id */
	size_t tab_size, n_eps;
	struct netd_ep *first, *last;
	struct netd_net *nets;
	size_t n_nets;
	/* Skip fsync for endpoint records (config sync_endpoints = no): they
	 * still survive kill -9 (the page cache does), only not a power loss —
	 * after which every container netns is gone and the records would be
	 * dropped at load anyway. Network records are always synced. */
	bool no_sync_eps;
};

/* Open (creating dirs 0700) and load the state under dir, dropping endpoints
 * whose netns path is gone (*dropped counts them). dir NULL: empty, memory only. */
int netd_state_open(const char *dir, struct netd_state **out, size_t *dropped, struct netd_err *err);
void netd_state_free(struct netd_state *s);

/* Validate a register body and build the endpoint (not stored); err->code 400. */
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
/* -EEXIST (409) if an explicit network of that name exists; an implicit one
 * is upgraded. */
int netd_state_put_net(struct netd_state *s, struct netd_net *n, struct netd_err *err);
struct netd_net *netd_state_get_net(const struct netd_state *s, const char *name);
/* -ENOENT (404), -EBUSY (409) while endpoints are registered on it. */
int netd_state_del_net(struct netd_state *s, const char *name, struct netd_err *err);

/* Names of networks, containers, aliases: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
bool netd_name_valid(const char *s);
/* Container ids: the same alphabet, up to 128 characters. */
bool netd_cid_valid(const char *s);
/* Interface names: 1..15 bytes, no '/', ':', whitespace, not "." or "..". */
bool netd_ifname_valid(const char *s);
/* Endpoint id from its parts into buf; -ENAMETOOLONG if it does not fit. */
int netd_ep_id(char *buf, size_t size, const char *network, const char *cid, const char *ifname);

/* ---- API (api.c) -------------------------------------------------------- */

struct netd_stats {
	unsigned long long by_code[600];	/* API answers by HTTP status */
	time_t started;
};

struct netd_daemon {
	struct netd_config cfg;
	struct netd_state *state;
	struct netd_stats stats;
	bool shutting_down;
};

struct api_req {
	const char *method;
	const char *path;		/* decoded, without the query string */
	const char *q_network;		/* ?network= for GET /v1/endpoints, or NULL */
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
void netd_api_error(struct api_resp *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- HTTP glue (http.c, only in the netd binary) ----------------------- */

struct MHD_Daemon;
/* Serve the API on an already listening socket, driven by the caller's loop
 * (MHD_USE_EPOLL without threads; see main.c). Takes ownership of listen_fd. */
struct MHD_Daemon *netd_http_start(struct netd_daemon *d, int listen_fd, struct netd_err *err);

#endif
