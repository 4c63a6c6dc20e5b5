/* ipam_store.h — netd-ipam's on-disk store: host-local's layout, so the
 * two plugins can share a data dir. Under <dataDir>/<network>/:
 *     <ip>                  one per reservation, "<containerID>\r\n<ifname>"
 *                           (files from old host-local hold only the id)
 *     last_reserved_ip.<N>  the last address handed out from range set N
 *     lock                  flock(LOCK_EX) held for a whole ADD/DEL/GC
 * and one thing of our own, which host-local ignores:
 *     .netd-index/<id>+<ifname> the addresses of one attachment (a cache,
 *                           checked against the reservation files), so
 *                           ADD/DEL/CHECK cost the same with 10 or 10,000
 *                           reservations. A stamp of the directory's stat in
 *                           the lock file tells when someone else changed it;
 *                           then the next run rebuilds the index, once.
 * Opening the store takes the lock; closing releases it. Every operation
 * expects an open (locked) store. Files (ipam_store.c); the allocator over
 * it: ipam.h.
 */
#ifndef NETD_IPAM_STORE_H
#define NETD_IPAM_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "netd/addr.h"
#include "netd/err.h"

struct netd_ipam_store;

/* One reservation file. ifname is NULL for an old id-only file. */
struct netd_ipam_lease {
	struct netd_addr addr;
	char *id;
	char *ifname;
};

/* Create <data_dir>/<network>/ if needed and take its lock (blocks until
 * other plugin runs let go). */
int netd_ipam_store_open(const char *data_dir, const char *network, struct netd_ipam_store **out,
			 struct netd_err *err);
/* Release the lock; NULL is fine. */
void netd_ipam_store_close(struct netd_ipam_store *s);
/* Is the index in use for this open store (else every lookup scans)? */
bool netd_ipam_store_indexed(const struct netd_ipam_store *s);

/* Create the file for a (O_EXCL) and record it as last_reserved_ip.<set>.
 * -EEXIST if someone holds a. */
int netd_ipam_store_reserve(struct netd_ipam_store *s, const struct netd_addr *a, const char *id,
			    const char *ifname, size_t set, struct netd_err *err);
/* Remove a's file (and its index line); -ENOENT if there is none. */
int netd_ipam_store_remove(struct netd_ipam_store *s, const struct netd_addr *a);
/* Remove l's file (as listed or got) and its index line. */
int netd_ipam_store_remove_lease(struct netd_ipam_store *s, const struct netd_ipam_lease *l);
/* Who holds a: 0 and *out filled (free with netd_ipam_lease_clear), or -ENOENT. */
int netd_ipam_store_get(struct netd_ipam_store *s, const struct netd_addr *a, struct netd_ipam_lease *out);
/* Every reservation (files named by an address; lock etc. are skipped). */
int netd_ipam_store_list(struct netd_ipam_store *s, struct netd_ipam_lease **out, size_t *n,
			 struct netd_err *err);
/* last_reserved_ip.<set>: 0, or -ENOENT / -EINVAL when absent or garbled. */
int netd_ipam_store_last(struct netd_ipam_store *s, size_t set, struct netd_addr *out);

void netd_ipam_lease_clear(struct netd_ipam_lease *l);
void netd_ipam_leases_free(struct netd_ipam_lease *l, size_t n);
/* Does lease l belong to (id, ifname)? Old id-only leases match on id. */
bool netd_ipam_lease_match(const struct netd_ipam_lease *l, const char *id, const char *ifname);

/* The reservations netd_ipam_lease_match gives to (id, ifname): from the
 * index when it answers, else from a scan. trust_miss: an empty index
 * answer is believed (ADD, whose attachment is new); else a miss scans too
 * (DEL, CHECK). *out: free with netd_ipam_leases_free. */
int netd_ipam_store_held(struct netd_ipam_store *s, const char *id, const char *ifname, bool trust_miss,
			 struct netd_ipam_lease **out, size_t *n, struct netd_err *err);
/* Is there a reservation file for a? */
bool netd_ipam_store_taken(struct netd_ipam_store *s, const struct netd_addr *a);

#endif
