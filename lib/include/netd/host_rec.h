/* host_rec.h — netd-host's record of a device it moved into a container:
 * what DEL needs to give the device back as it was (original name, MAC,
 * MTU, up state, the device's own alias).
 *
 * Two copies. The device's alias, set before the move, lives in the kernel
 * and travels with the device, so DEL still finds and restores it when the
 * state file is lost:
 *
 *     netd-host:<name>:<mac, 12 hex digits>:<mtu>:<up|down>:<ifname>:<container>[:<own alias>]
 *
 * (the device's own alias rides at the end when the whole fits in 255
 * bytes). The state file <dir>/<container>@<ifname> (JSON) holds the same
 * plus what the alias has no room for: the netns, the network, the own
 * alias in full and the device's ifindex inside the container; it covers a
 * container that rewrote the alias. Container ids cannot hold '@', so the
 * file name splits.
 */
#ifndef NETD_HOST_REC_H
#define NETD_HOST_REC_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/err.h"

#define NETD_HOST_REC_ALIAS_PREFIX "netd-host:"
#define NETD_HOST_REC_ALIAS_MAX 256 /* the kernel's IFALIASZ */

struct netd_host_rec {
	char orig[IFNAMSIZ];	/* the device's name on the host */
	uint8_t mac[6];
	int mtu;
	bool up;
	char cid[256];		/* container id */
	char ifname[IFNAMSIZ];	/* its name in the container */
	/* state file only: */
	char netns[4096];
	char network[256];
	char alias[NETD_HOST_REC_ALIAS_MAX]; /* the device's own alias before ADD */
	int ifindex;		/* inside the container */
};

/* ---- the alias ---- */

void netd_host_rec_alias(const struct netd_host_rec *r, char out[NETD_HOST_REC_ALIAS_MAX]);
/* Parse an alias into *r (state-file-only fields zero); false, *r
 * untouched, when it is not one of ours. */
bool netd_host_rec_from_alias(const char *alias, struct netd_host_rec *r);
/* The alias is ours and names (cid, ifname). */
bool netd_host_rec_alias_is(const char *alias, const char *cid, const char *ifname);

/* ---- the state file in `dir` ---- */

/* Write atomically (temporary file, rename), creating dir. No fsync: the
 * alias is the durable copy. Errors: CNI_ERR_IO. */
int netd_host_rec_save(const char *dir, const struct netd_host_rec *r, struct netd_err *err);
/* -ENOENT: no record; -EINVAL: not one. */
int netd_host_rec_load(const char *dir, const char *cid, const char *ifname, struct netd_host_rec *r);
void netd_host_rec_remove(const char *dir, const char *cid, const char *ifname);
/* Every readable record in dir (GC), in *out (caller frees); none, or no
 * dir, is 0 with *n 0. -ENOMEM. */
int netd_host_rec_list(const char *dir, struct netd_host_rec **out, size_t *n);

#endif
