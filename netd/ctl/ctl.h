/* ctl.h — netdctl's pieces: what every command shares (ctl.c: global options,
 * messages, tables, conflists), the runtime role that runs CNI plugin chains
 * like cnitool (runtime.c), and main with the API and network commands
 * (netdctl.c). Calls go one way: netdctl.c -> runtime.c -> ctl.c. */
#ifndef NETDCTL_H
#define NETDCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "netd/err.h"

struct ctl_opts {
	const char *socket;	/* netd API socket */
	const char *conf_dir;	/* CNI config dir with <net>.conflist */
	const char *cni_path;	/* where plugins are, ':'-separated */
	const char *cache_dir;	/* results of ADD, for DEL and CHECK */
	bool json;
};

/* Set once by main from the command line and environment. */
extern struct ctl_opts opts;

/* Exit codes: 0 ok, 1 failed, 2 usage. */
enum { EXIT_USAGE = 2 };

/* "netdctl: " + message on stderr; returns 1 (the exit code of a failure). */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Load <conf_dir>/<name>.conflist (validated: name matches, plugins[] of
 * objects with a type). err->code: CNI_ERR_INVALID_CONFIG for a bad name or
 * a file that is not such a conflist, CNI_ERR_DECODE for bad JSON,
 * NETD_ERR_NOT_FOUND when there is no such file. */
int ctl_conflist_load(const char *name, json_t **out, struct netd_err *err);

/* Drivers and bridges (drivers.c) */
/* bridge, macvlan, host, overlay: is it one, is its netd-<driver> plugin in
 * the CNI path, and the installed ones ", "-joined ("none" if none) */
bool ctl_driver_known(const char *driver);
bool ctl_driver_installed(const char *driver);
void ctl_drivers_installed(char *buf, size_t size);
/* The bridge `network create` names for network `name`: "nd-NAME" up to 12
 * characters, else "nd_" + 4 characters + 8 hex digits of a hash. */
void ctl_bridge_name(const char *name, char out[16]);
/* Delete bridge br (host netns) if it exists and has no ports: 1 deleted,
 * 0 nothing to do (absent, or not a bridge), -EBUSY (NETD_ERR_IN_USE) while
 * ports remain, or another negative errno; err says why. */
int ctl_bridge_remove_unused(const char *br, struct netd_err *err);

/* `netdctl container ...` (runtime.c) */
int cmd_container(int argc, char **argv);

/* `netdctl topology [--dot]`: netd's networks and endpoints as Graphviz
 * DOT on stdout (topology.c) */
int cmd_topology(int argc, char **argv);

/* `netdctl dns NAME --from CONTAINER [--type T]`: what that container would
 * get for NAME and why, from netd's GET /v1/dns (dns.c) */
int cmd_dns(int argc, char **argv);

/* print a table: rows of ncols strings; first row is the header */
void ctl_table(const char *const *cells, size_t nrows, size_t ncols);

#endif
