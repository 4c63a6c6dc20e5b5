/* ipam.h — the address allocator behind netd-ipam.
 *
 * Two halves, usable and testable apart:
 *
 *  - the config (struct netd_ipam_conf): parsed and validated from a CNI
 *    network config in host-local's format (ipam.ranges = list of range sets,
 *    each a list of {subnet, rangeStart, rangeEnd, gateway}; or the legacy flat
 *    ipam.subnet/rangeStart/rangeEnd/gateway), plus routes, dataDir,
 *    resolvConf, `exclude` (addresses never handed out) and the requested IPs.
 *    Pure: no files are touched.
 *
 *  - the store (struct netd_ipam_store, netd/ipam_store.h): host-local's
 *    on-disk layout plus our index of it; every operation below expects an
 *    open (locked) store, which is what makes concurrent plugin runs safe.
 *
 * Files: ipam_conf.c (config, requests), ipam_order.c (allocation order),
 * ipam_store.c (the store), ipam.c (the operations), ipam_cni.c (the plugin).
 *
 * Allocation gives one address per range set. In each set, in order: an
 * address the (container, ifname) already holds there is returned again (ADD
 * is idempotent, unlike host-local, which fails); else the requested IP for
 * that set; else the next free address after last_reserved_ip.<N>, round
 * robin over the set's ranges. Never handed out: the gateway, an IPv4
 * subnet's network and broadcast address, anything in `exclude`.
 *
 * Errors: config problems are CNI code 7 with a message naming the field
 * ("ipam.ranges[0][1].rangeStart: ..."); a full range set is
 * NETD_ERR_IPAM_FULL; a requested IP held by someone else NETD_ERR_IN_USE;
 * CHECK finding no matching reservation NETD_ERR_DRIFT; file errors
 * CNI_ERR_IO. Everything returns 0 (or a count) or a negative errno.
 */
#ifndef NETD_IPAM_H
#define NETD_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "netd/addr.h"
#include "netd/cni.h"
#include "netd/err.h"
#include "netd/ipam_store.h"

#define NETD_IPAM_DEFAULT_DATA_DIR "/var/lib/cni/networks"
/* CNI spec code for STATUS: "plugin not available". */
#define NETD_IPAM_ERR_NOT_AVAILABLE 50

struct netd_ipam_range {
	struct netd_prefix subnet;	/* host bits clear */
	struct netd_addr start, end;	/* inclusive bounds of what may be handed out */
	struct netd_addr gateway;	/* default: subnet's first address + 1; never handed out */
};

struct netd_ipam_rangeset {
	struct netd_ipam_range *ranges;	/* one family, non-overlapping */
	size_t n_ranges;
};

struct netd_ipam_conf {
	char *network;			/* config name: the store's subdirectory */
	char *data_dir;			/* default NETD_IPAM_DEFAULT_DATA_DIR */
	struct netd_ipam_rangeset *sets; size_t n_sets;
	struct netd_prefix *exclude; size_t n_exclude;	/* never handed out */
	struct cni_route *routes; size_t n_routes;
	char *resolv_conf;		/* NULL: result has no dns */
	struct netd_addr *requested; size_t n_requested; /* static IPs asked for */
};

/* Parse the whole network config (needs `name` and `ipam`). On success *out is
 * owned by the caller (netd_ipam_conf_free). */
int netd_ipam_conf_parse(const json_t *netconf, struct netd_ipam_conf **out, struct netd_err *err);
void netd_ipam_conf_free(struct netd_ipam_conf *c);

/* Add one requested IP, "10.1.2.3" or "10.1.2.3/24" (the length is ignored;
 * the subnet's is used). `source` names where it came from, for messages.
 * Duplicates are merged. Code 7 on a bad address. */
int netd_ipam_conf_request(struct netd_ipam_conf *c, const char *ip, const char *source,
			   struct netd_err *err);
/* Collect requests from all three places a runtime puts them: runtimeConfig
 * `ips` (capability), config `args.cni.ips`, and CNI_ARGS `IP=` (a
 * comma-separated list). Any argument may be NULL. */
int netd_ipam_conf_requests(struct netd_ipam_conf *c, const json_t *runtime_config,
			    const json_t *conf_args, const char *env_ip, struct netd_err *err);

/* Index of the range set whose ranges (start..end) hold a, or -1. */
int netd_ipam_find_set(const struct netd_ipam_conf *c, const struct netd_addr *a);
/* Index of the range in set s holding a (start..end), or -1. */
int netd_ipam_find_range(const struct netd_ipam_rangeset *s, const struct netd_addr *a);
/* May a be handed out from range r: inside start..end, not the gateway,
 * network or broadcast address, not excluded. */
bool netd_ipam_usable(const struct netd_ipam_conf *c, const struct netd_ipam_range *r,
		      const struct netd_addr *a);
/* The addresses of r never handed out: gateway, network, IPv4 broadcast. */
bool netd_ipam_special(const struct netd_ipam_range *r, const struct netd_addr *a);
/* The `exclude` entry holding a, or NULL. */
const struct netd_prefix *netd_ipam_excluded(const struct netd_ipam_conf *c, const struct netd_addr *a);
/* The allocation order, without the store: the next usable address of set
 * `set` after `cursor`, wrapping from the last range's end to the first's
 * start. cursor NULL or outside the set: the set's first usable address.
 * -ENOSPC if the set has no usable address at all. */
int netd_ipam_next(const struct netd_ipam_conf *c, size_t set, const struct netd_addr *cursor,
		   struct netd_addr *out);
/* "10.1.0.0/24,10.2.0.0/24" into buf; returns buf. */
const char *netd_ipam_set_str(const struct netd_ipam_rangeset *s, char *buf, size_t len);

/* ---- operations (on an open store) ---------------------------------------- */

/* ADD: one address per range set into ips[0..c->n_sets-1] (address with the
 * subnet's prefix length, gateway). All or nothing: on failure the addresses
 * this call reserved are released again. Returns how many addresses were
 * reserved by this call (0: (id, ifname) held them all already). */
int netd_ipam_allocate(const struct netd_ipam_conf *c, struct netd_ipam_store *s, const char *id,
		       const char *ifname, struct cni_ip *ips, struct netd_err *err);
/* DEL: remove every reservation of (id, ifname); if there is none, the old
 * id-only ones of id. Returns how many were removed (0 is success). */
int netd_ipam_release(struct netd_ipam_store *s, const char *id, const char *ifname,
		      struct netd_err *err);
/* CHECK: every address in addrs that falls in one of c's range sets must be
 * reserved for (id, ifname); and at least one reservation must exist. */
int netd_ipam_check(const struct netd_ipam_conf *c, struct netd_ipam_store *s, const char *id,
		    const char *ifname, const struct netd_addr *addrs, size_t n_addrs,
		    struct netd_err *err);

struct netd_ipam_attachment {
	const char *id;
	const char *ifname;
};

/* GC selection: is l among the valid attachments? */
bool netd_ipam_gc_keep(const struct netd_ipam_lease *l, const struct netd_ipam_attachment *valid,
		       size_t n_valid);
/* GC: remove every reservation not kept by netd_ipam_gc_keep (an empty list
 * removes all). Keeps going past errors. Returns how many were removed. */
int netd_ipam_gc(struct netd_ipam_store *s, const struct netd_ipam_attachment *valid, size_t n_valid,
		 struct netd_err *err);

/* STATUS: the data dir is (or can be created) writable and every range set
 * still has a free address; else code NETD_IPAM_ERR_NOT_AVAILABLE. Takes the
 * lock itself when the network's directory exists; creates nothing else. */
int netd_ipam_status(const struct netd_ipam_conf *c, struct netd_err *err);

/* Fill a result: ips (c->n_sets of them) and c's routes. DNS is separate
 * (netd_resolv_conf_read, netd/resolv.h) so a plugin can read it before reserving anything. */
int netd_ipam_result(const struct netd_ipam_conf *c, const struct cni_ip *ips, struct cni_result *r,
		     struct netd_err *err);

/* ---- the CNI plugin -------------------------------------------------------- */

/* netd-ipam's handlers (lib/ipam_cni.c): the netd-ipam binary is cni_main of
 * this, and a main plugin runs them in-process with cni_invoke. ADD sets
 * ctx->unchanged when (container, ifname) already held every address (an
 * idempotent repeat), so the caller knows it reserved nothing. */
extern const struct cni_plugin netd_ipam_plugin;

/* Does ctx's (container, ifname) hold an address in the store ctx's config
 * names (netd-ipam's layout, which is host-local's)? 1 yes, 0 no (also when
 * the network has no directory: nothing is created), < 0 error. Lets a main
 * plugin that execs an IPAM plugin of this layout recognise a repeated ADD
 * before asking it. */
int netd_ipam_cni_held(const struct cni_ctx *ctx, struct netd_err *err);

#endif
