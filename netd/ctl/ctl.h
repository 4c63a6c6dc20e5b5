/* ctl.h — netdctl's pieces: global options (netdctl.c) and the runtime role
 * that runs CNI plugin chains like cnitool (runtime.c). */
#ifndef NETDCTL_H
#define NETDCTL_H

#include <stdbool.h>
#include <jansson.h>

#include "netd/err.h"

struct ctl_opts {
	const char *socket;	/* netd API socket */
	const char *conf_dir;	/* CNI config dir with <net>.conflist */
	const char *cni_path;	/* where plugins are, ':'-separated */
	const char *cache_dir;	/* results of ADD, for DEL and CHECK */
	bool json;
};

extern struct ctl_opts opts;

/* Exit codes: 0 ok, 1 failed, 2 usage. */
enum { EXIT_USAGE = 2 };

/* Load <conf_dir>/<name>.conflist (validated: name matches, plugins[] of
 * objects with a type). */
int ctl_conflist_load(const char *name, json_t **out, struct netd_err *err);

int cmd_container(int argc, char **argv);

/* print a table: rows of ncols strings; first row is the header */
void ctl_table(const char *const *cells, size_t nrows, size_t ncols);

#endif
