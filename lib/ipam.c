/* ipam.c — netd-ipam's operations on an open store: allocate (ADD),
 * release (DEL), check, gc, status, and the result. Config: ipam_conf.c;
 * allocation order: ipam_order.c; the store: ipam_store.c. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netd/ipam.h"
#include "ipam_internal.h"

static void fill_ip(const struct netd_ipam_range *r, const struct netd_addr *a, struct cni_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->address.addr = *a;
	ip->address.len = r->subnet.len;
	ip->gateway = r->gateway;
	ip->iface = -1;
}

/* The requested IP for set `set`, validated, or NULL. */
static int request_for_set(const struct netd_ipam_conf *c, size_t set, const struct netd_addr **out,
			   struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], b[NETD_ADDR_STRLEN];
	const struct netd_addr *found = NULL;

	for (size_t i = 0; i < c->n_requested; i++) {
		const struct netd_addr *q = &c->requested[i];

		if (netd_ipam_find_set(c, q) != (int)set)
			continue;
		if (found)
			return netd_err_invalid(err, "requested IPs %s and %s are both in range set %zu: "
					"one address per range set", netd_addr_str(found, a),
					netd_addr_str(q, b), set);
		found = q;
	}
	*out = found;
	return 0;
}

static int check_requests(const struct netd_ipam_conf *c, struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], p[NETD_PREFIX_STRLEN];

	for (size_t i = 0; i < c->n_requested; i++) {
		const struct netd_addr *q = &c->requested[i];
		int set = netd_ipam_find_set(c, q), r;
		const struct netd_ipam_range *rg;
		const struct netd_prefix *ex;

		netd_addr_str(q, a);
		if (set < 0)
			return netd_err_invalid(err, "requested IP %s is outside every range of network %s", a,
					c->network);
		r = netd_ipam_find_range(&c->sets[set], q);
		rg = &c->sets[set].ranges[r];
		netd_prefix_str(&rg->subnet, p);
		if (netd_addr_eq(q, &rg->gateway))
			return netd_err_invalid(err, "requested IP %s is the gateway of %s", a, p);
		if (netd_ipam_special(rg, q))
			return netd_err_invalid(err, "requested IP %s is the network or broadcast address of %s", a, p);
		if ((ex = netd_ipam_excluded(c, q)))
			return netd_err_invalid(err, "requested IP %s is excluded (ipam.exclude %s)", a,
					netd_prefix_str(ex, p));
	}
	return 0;
}

static int alloc_set(const struct netd_ipam_conf *c, struct netd_ipam_store *s, size_t set,
		     const char *id, const char *ifname, const struct netd_addr *req,
		     struct netd_addr *got, struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], buf[512];
	struct netd_addr first, cur, last;
	int rc;

	if (req) {
		rc = netd_ipam_store_reserve(s, req, id, ifname, set, err);
		if (rc == -EEXIST) {
			struct netd_ipam_lease l;
			char who[300] = "another container";

			if (netd_ipam_store_get(s, req, &l) == 0) {
				snprintf(who, sizeof(who), "container %s%s%s", l.id,
					 l.ifname ? " ifname " : "", l.ifname ? l.ifname : "");
				netd_ipam_lease_clear(&l);
			}
			return netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
					    "requested IP %s is already in use by %s",
					    netd_addr_str(req, a), who);
		}
		if (rc == 0)
			*got = *req;
		return rc;
	}
	rc = netd_ipam_next(c, set, netd_ipam_store_last(s, set, &last) == 0 ? &last : NULL, &first);
	cur = first;
	while (rc == 0) {
		rc = netd_ipam_store_reserve(s, &cur, id, ifname, set, err);
		if (rc == 0) {
			*got = cur;
			return 0;
		}
		if (rc != -EEXIST)
			return rc;
		rc = netd_ipam_next(c, set, &cur, &cur);
		if (rc == 0 && netd_addr_eq(&cur, &first))
			rc = -ENOSPC;
	}
	return netd_err_set(err, -ENOSPC, NETD_ERR_IPAM_FULL, "no IP addresses available in range set %s",
			    netd_ipam_set_str(&c->sets[set], buf, sizeof(buf)));
}

int netd_ipam_allocate(const struct netd_ipam_conf *c, struct netd_ipam_store *s, const char *id,
		       const char *ifname, struct cni_ip *ips, struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], b[NETD_ADDR_STRLEN];
	struct netd_ipam_lease *leases = NULL;
	struct netd_addr *fresh;
	size_t n_leases = 0, n_fresh = 0;
	int rc;

	if ((rc = check_requests(c, err)) < 0)
		return rc;
	if ((rc = netd_ipam_store_held(s, id, ifname, true, &leases, &n_leases, err)) < 0)
		return rc;
	if (!(fresh = calloc(c->n_sets, sizeof(*fresh)))) {
		netd_ipam_leases_free(leases, n_leases);
		return ipam_oom(err);
	}
	for (size_t set = 0; set < c->n_sets; set++) {
		const struct netd_addr *req = NULL, *have = NULL;
		struct netd_addr got;

		if ((rc = request_for_set(c, set, &req, err)) < 0)
			goto undo;
		for (size_t i = 0; i < n_leases && !have; i++)
			if (netd_ipam_lease_match(&leases[i], id, ifname) &&
			    netd_ipam_find_set(c, &leases[i].addr) == (int)set)
				have = &leases[i].addr;
		if (have) {
			/* ADD again for the same attachment: hand back what it has. */
			if (req && !netd_addr_eq(req, have)) {
				rc = netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
						  "container %s ifname %s already has IP %s in range set %zu; "
						  "cannot also take requested IP %s", id, ifname,
						  netd_addr_str(have, a), set, netd_addr_str(req, b));
				goto undo;
			}
			got = *have;
		} else {
			if ((rc = alloc_set(c, s, set, id, ifname, req, &got, err)) < 0)
				goto undo;
			fresh[n_fresh++] = got;
		}
		fill_ip(&c->sets[set].ranges[netd_ipam_find_range(&c->sets[set], &got)], &got, &ips[set]);
	}
	rc = (int)n_fresh;
	goto out;
undo:
	for (size_t i = 0; i < n_fresh; i++)
		netd_ipam_store_remove(s, &fresh[i]);
out:
	free(fresh);
	netd_ipam_leases_free(leases, n_leases);
	return rc;
}

int netd_ipam_release(struct netd_ipam_store *s, const char *id, const char *ifname, struct netd_err *err)
{
	struct netd_ipam_lease *leases;
	size_t n;
	int rc, removed = 0, first_err = 0;

	if ((rc = netd_ipam_store_held(s, id, ifname, false, &leases, &n, err)) < 0)
		return rc;
	/* Exact (id, ifname) first; old id-only files only when there is none,
	 * which is what host-local does. */
	for (int pass = 0; pass < 2 && !removed; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct netd_ipam_lease *l = &leases[i];
			char a[NETD_ADDR_STRLEN];

			if (!l->id || strcmp(l->id, id))
				continue;
			if (pass == 0 ? !l->ifname || strcmp(l->ifname, ifname) : l->ifname != NULL)
				continue;
			rc = netd_ipam_store_remove_lease(s, l);
			if (rc == 0)
				removed++;
			else if (rc != -ENOENT && !first_err)
				first_err = netd_err_set(err, rc, CNI_ERR_IO, "cannot remove %s: %s",
							 netd_addr_str(&l->addr, a), strerror(-rc));
		}
	}
	netd_ipam_leases_free(leases, n);
	return first_err ? first_err : removed;
}

int netd_ipam_check(const struct netd_ipam_conf *c, struct netd_ipam_store *s, const char *id,
		    const char *ifname, const struct netd_addr *addrs, size_t n_addrs, struct netd_err *err)
{
	struct netd_ipam_lease *leases;
	char a[NETD_ADDR_STRLEN];
	size_t n;
	int rc;

	if ((rc = netd_ipam_store_held(s, id, ifname, false, &leases, &n, err)) < 0)
		return rc;
	netd_ipam_leases_free(leases, n);
	if (!n)
		return netd_err_set(err, -ENOENT, NETD_ERR_DRIFT,
				    "no address is reserved for container %s ifname %s in network %s",
				    id, ifname, c->network);
	for (size_t i = 0; i < n_addrs; i++) {
		struct netd_ipam_lease l;
		bool ok;

		if (netd_ipam_find_set(c, &addrs[i]) < 0)
			continue;	/* another IPAM's address */
		netd_addr_str(&addrs[i], a);
		if (netd_ipam_store_get(s, &addrs[i], &l) < 0)
			return netd_err_set(err, -ENOENT, NETD_ERR_DRIFT, "%s is not reserved in network %s",
					    a, c->network);
		ok = netd_ipam_lease_match(&l, id, ifname);
		netd_ipam_lease_clear(&l);
		if (!ok)
			return netd_err_set(err, -EEXIST, NETD_ERR_DRIFT,
					    "%s is reserved for another container, not %s ifname %s", a, id, ifname);
	}
	return 0;
}

bool netd_ipam_gc_keep(const struct netd_ipam_lease *l, const struct netd_ipam_attachment *valid,
		       size_t n_valid)
{
	for (size_t i = 0; i < n_valid; i++)
		if (valid[i].id && valid[i].ifname && netd_ipam_lease_match(l, valid[i].id, valid[i].ifname))
			return true;
	return false;
}

int netd_ipam_gc(struct netd_ipam_store *s, const struct netd_ipam_attachment *valid, size_t n_valid,
		 struct netd_err *err)
{
	struct netd_ipam_lease *leases;
	char a[NETD_ADDR_STRLEN];
	size_t n;
	int rc, removed = 0, first_err = 0;

	if ((rc = netd_ipam_store_list(s, &leases, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (netd_ipam_gc_keep(&leases[i], valid, n_valid))
			continue;
		rc = netd_ipam_store_remove_lease(s, &leases[i]);
		if (rc == 0)
			removed++;
		else if (rc != -ENOENT && !first_err)
			first_err = netd_err_set(err, rc, CNI_ERR_IO, "cannot remove %s: %s",
						 netd_addr_str(&leases[i].addr, a), strerror(-rc));
	}
	netd_ipam_leases_free(leases, n);
	return first_err ? first_err : removed;
}

/* The nearest existing ancestor of path must be a writable directory. */
static int writable(const char *path)
{
	char *p = strdup(path), *slash;
	struct stat st;
	int rc;

	if (!p)
		return -ENOMEM;
	for (;;) {
		if (stat(p, &st) == 0) {
			rc = !S_ISDIR(st.st_mode) ? -ENOTDIR : access(p, W_OK | X_OK) < 0 ? -errno : 0;
			break;
		}
		if (errno != ENOENT || !(slash = strrchr(p, '/')) || slash == p) {
			rc = -errno;
			break;
		}
		*slash = '\0';
	}
	free(p);
	return rc;
}

int netd_ipam_status(const struct netd_ipam_conf *c, struct netd_err *err)
{
	char *path, buf[512];
	struct netd_ipam_store *s = NULL;
	struct stat st;
	int rc;

	if (asprintf(&path, "%s/%s", c->data_dir, c->network) < 0)
		return ipam_oom(err);
	if ((rc = writable(path)) < 0) {
		netd_err_set(err, rc, NETD_IPAM_ERR_NOT_AVAILABLE, "data dir %s is not writable: %s", path,
			     strerror(-rc));
		free(path);
		return rc;
	}
	if (stat(path, &st) == 0 && (rc = netd_ipam_store_open(c->data_dir, c->network, &s, err)) < 0) {
		free(path);
		if (err)
			err->code = NETD_IPAM_ERR_NOT_AVAILABLE;
		return rc;
	}
	free(path);
	for (size_t set = 0; set < c->n_sets; set++) {
		struct netd_addr first, cur;
		bool free_found = false;

		rc = netd_ipam_next(c, set, NULL, &first);
		cur = first;
		while (rc == 0 && !free_found) {
			if (!s || !netd_ipam_store_taken(s, &cur))
				free_found = true;
			else if ((rc = netd_ipam_next(c, set, &cur, &cur)) == 0 && netd_addr_eq(&cur, &first))
				break;
		}
		if (!free_found) {
			netd_ipam_store_close(s);
			return netd_err_set(err, -ENOSPC, NETD_IPAM_ERR_NOT_AVAILABLE,
					    "no IP addresses available in range set %s",
					    netd_ipam_set_str(&c->sets[set], buf, sizeof(buf)));
		}
	}
	netd_ipam_store_close(s);
	return 0;
}

int netd_ipam_result(const struct netd_ipam_conf *c, const struct cni_ip *ips, struct cni_result *r,
		     struct netd_err *err)
{
	for (size_t i = 0; i < c->n_sets; i++)
		if (cni_result_add_ip(r, &ips[i]) < 0)
			return ipam_oom(err);
	for (size_t i = 0; i < c->n_routes; i++)
		if (cni_result_add_route(r, &c->routes[i]) < 0)
			return ipam_oom(err);
	return 0;
}
