/* netd-host — move an existing host interface into the container and give
 * it back on DEL (CNI host-device semantics).
 *
 * ADD: validate; find the device on the host by `device` (name), `hwaddr`,
 * `kernelpath` or `pciBusID` (all given must agree); refuse one that is not
 * on the host or still carries another container's record; IPAM ADD; tag
 * the device with an alias recording what DEL needs to restore it, then
 * move it into the netns renamed to CNI_IFNAME in one RTM_NEWLINK;
 * addresses, up, routes; and a state file /var/lib/netd/host/<container>@<ifname>
 * with the same record plus the original alias and the container-side
 * ifindex (both formats: netd/host_rec.h).
 * Any failure moves it back as it was and releases the IPAM reservation.
 *
 * DEL: find the device in the container (by CNI_IFNAME, or by the recorded
 * ifindex when the container renamed it), or, when the netns went away
 * first and the kernel handed the device back, on the host (by our alias or
 * the recorded ifindex + MAC); move it back under its original name and
 * restore MAC, MTU, alias and up state. Nothing found is success: a virtual
 * device (veth) dies with its netns. The alias lives in the kernel and
 * travels with the device, so a lost state file still leaves DEL able to do
 * its job; the state file covers a container that rewrote the alias.
 * CHECK: the device is there, ours, up, with prevResult's MAC, addresses
 * and routes. GC restores devices of attachments that are no longer valid.
 * See docs/netd-host.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netd/attach.h"
#include "netd/cni.h"
#include "netd/host_rec.h"
#include "netd/ifconf.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nl.h"
#include "netd/util.h"

#define STATE_DIR_DEFAULT "/var/lib/netd/host"

struct host_conf {
	const char *device, *hwaddr, *kernelpath, *pci;
	uint8_t mac[6];
	const char *ipam_type; /* NULL = no IPAM */
};

#define in_use(ctx, ...) netd_err_set(&(ctx)->err, -EBUSY, NETD_ERR_IN_USE, __VA_ARGS__)

/* Every command: DEL and GC find the device by its record, not by the
 * selectors, so only the ipam section matters to them. */
static int parse_conf(struct cni_ctx *ctx, struct host_conf *c)
{
	*c = (struct host_conf){0};
	return netd_conf_ipam(ctx, &c->ipam_type);
}

/* ADD and CHECK: which device. */
static int parse_device(struct cni_ctx *ctx, struct host_conf *c)
{
	const json_t *j = ctx->config;
	struct netd_err *err = &ctx->err;
	int rc;

	if ((rc = cni_conf_str(j, "device", &c->device, err)) < 0 || (rc = cni_conf_str(j, "hwaddr", &c->hwaddr, err)) < 0 ||
	    (rc = cni_conf_str(j, "kernelpath", &c->kernelpath, err)) < 0 || (rc = cni_conf_str(j, "pciBusID", &c->pci, err)) < 0)
		return rc;
	if (c->device && !*c->device)
		c->device = NULL;
	if (c->hwaddr && !*c->hwaddr)
		c->hwaddr = NULL;
	if (c->kernelpath && !*c->kernelpath)
		c->kernelpath = NULL;
	if (c->pci && !*c->pci)
		c->pci = NULL;
	if (!c->device && !c->hwaddr && !c->kernelpath && !c->pci)
		return cni_conf_err(ctx, "no device given: set one of 'device', 'hwaddr', 'kernelpath' or 'pciBusID'");
	if (c->device && !netd_ifname_valid(c->device))
		return cni_conf_err(ctx, "device '%s' is not a valid interface name (" NETD_IFNAME_RULE ")",
				    c->device);
	if (c->hwaddr && netd_mac_parse(c->hwaddr, c->mac) < 0)
		return cni_conf_err(ctx, "hwaddr '%s' does not parse (want aa:bb:cc:dd:ee:ff)", c->hwaddr);
	if (c->kernelpath && (strncmp(c->kernelpath, "/sys/", 5) || strstr(c->kernelpath, "..")))
		return cni_conf_err(ctx, "kernelpath '%s' must be a path under /sys/ (e.g. /sys/devices/pci0000:00/...)",
				    c->kernelpath);
	if (c->pci && (strchr(c->pci, '/') || strstr(c->pci, "..")))
		return cni_conf_err(ctx, "pciBusID '%s' is not a PCI address (e.g. 0000:00:1f.6)", c->pci);
	return 0;
}

/* ---- the record (netd/host_rec.h) --------------------------------------- */

static const char *state_dir(const struct cni_ctx *ctx)
{
	const char *d = cni_getenv(ctx->envp, "NETD_HOST_STATE_DIR");

	return d && *d ? d : STATE_DIR_DEFAULT;
}

/* ---- finding the device ------------------------------------------------- */

/* ifindex of the net device under a sysfs device directory: the directory
 * of the interface itself (has "ifindex"), or a device with one "net/"
 * child (a NIC's PCI directory). */
static int sysfs_ifindex(const char *dir)
{
	char path[PATH_MAX], buf[32] = "";
	struct dirent *d;
	DIR *dp;
	int fd, n, found = 0, idx = -ENODEV;

	snprintf(path, sizeof(path), "%s/ifindex", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(path, sizeof(path), "%s/net", dir);
		if (!(dp = opendir(path)))
			return -ENODEV;
		while ((d = readdir(dp)))
			if (d->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/net/%s/ifindex", dir, d->d_name);
				found++;
			}
		closedir(dp);
		if (found != 1)
			return found ? -ENOTUNIQ : -ENODEV;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -ENODEV;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0)
		idx = atoi(buf);
	return idx > 0 ? idx : -ENODEV;
}

static int by_mac(struct cni_ctx *ctx, struct netd_nl *nl, const uint8_t mac[6], struct netd_link *out)
{
	struct netd_link *all = NULL;
	size_t n = 0, hits = 0;
	int rc;

	if ((rc = netd_nl_link_list(nl, &all, &n, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(all[i].mac, mac, 6) && all[i].ifindex != 1 && !hits++)
			*out = all[i];
	free(all);
	return hits == 1 ? 0 : hits ? -ENOTUNIQ : -ENODEV;
}

/* The device every given selector names; they must agree. */
static int find_device(struct cni_ctx *ctx, struct netd_nl *nl, const struct host_conf *c,
		       struct netd_link *out)
{
	struct netd_link l;
	const char *what = NULL;
	char dir[PATH_MAX];
	int rc, idx;

	out->ifindex = 0;
	if (c->device) {
		what = c->device;
		if ((rc = netd_nl_link_get(nl, c->device, &l, &ctx->err)) < 0)
			goto notfound;
		*out = l;
	}
	if (c->hwaddr) {
		what = c->hwaddr;
		if ((rc = by_mac(ctx, nl, c->mac, &l)) == -ENOTUNIQ)
			return cni_conf_err(
				ctx, "several interfaces on the host have hwaddr %s; name one with 'device'",
				c->hwaddr);
		if (rc < 0)
			goto notfound;
		if (out->ifindex && out->ifindex != l.ifindex)
			goto disagree;
		*out = l;
	}
	for (int k = 0; k < 2; k++) {
		if (k == 0 && !c->kernelpath)
			continue;
		if (k == 1 && !c->pci)
			continue;
		what = k == 0 ? c->kernelpath : c->pci;
		if (k == 0)
			snprintf(dir, sizeof(dir), "%s", c->kernelpath);
		else
			snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", c->pci);
		if ((idx = sysfs_ifindex(dir)) == -ENOTUNIQ)
			return cni_conf_err(ctx, "%s has several network interfaces; name one with 'device'",
					dir);
		if (idx < 0 || (rc = netd_nl_link_get_index(nl, idx, &l, &ctx->err)) == -ENODEV) {
			rc = -ENODEV;
			goto notfound;
		}
		if (rc < 0)
			return rc;
		if (out->ifindex && out->ifindex != l.ifindex)
			goto disagree;
		*out = l;
	}
	return 0;
notfound:
	if (rc != -ENODEV)
		return rc;
	return in_use(ctx, "device %s is not on the host: it does not exist, or a container already has it",
		      what);
disagree:
	return cni_conf_err(
		ctx, "'device', 'hwaddr', 'kernelpath' and 'pciBusID' name different interfaces (%s and %s)",
		out->name, l.name);
}

/* ---- giving it back ----------------------------------------------------- */

/* The device (ifindex `idx`, in the netns of `src`, or on the host when src
 * is NULL) goes back under its original name with its original MAC, MTU,
 * alias and up state. */
static int restore(struct cni_ctx *ctx, struct netd_nl *host_nl, struct netd_nl *src, int idx,
		   const struct netd_host_rec *r)
{
	struct netd_link l, clash;
	int rc, hostfd;

	if (src) {
		/* Moving takes it down; the rename rides along in the same request. */
		if (netd_nl_link_get(host_nl, r->orig, &clash, NULL) == 0)
			return in_use(ctx, "cannot give %s back: the name %s is taken on the host", r->orig,
				      r->orig);
		if ((hostfd = rc = netns_open("/proc/self/ns/net", &ctx->err)) < 0)
			return rc;
		rc = netd_nl_link_move(src, idx, hostfd, r->orig, &ctx->err);
		close(hostfd);
		if (rc < 0)
			return rc;
		if ((rc = netd_nl_link_get(host_nl, r->orig, &l, &ctx->err)) < 0)
			return rc == -ENODEV
				       ? netd_err_set(&ctx->err, rc, NETD_ERR_KERNEL, "%s vanished", r->orig)
				       : rc;
	} else {
		if ((rc = netd_nl_link_get_index(host_nl, idx, &l, &ctx->err)) < 0)
			return rc;
		if (strcmp(l.name, r->orig)) {
			if (netd_nl_link_get(host_nl, r->orig, &clash, NULL) == 0)
				return in_use(ctx,
					      "cannot rename %s back to %s: the name is taken on the host",
					      l.name, r->orig);
			/* A link must be down to be renamed. */
			if (l.up && (rc = netd_nl_link_set_up(host_nl, idx, false, &ctx->err)) < 0)
				return rc;
			l.up = false;
			if ((rc = netd_nl_link_set_name(host_nl, idx, r->orig, &ctx->err)) < 0)
				return rc;
		}
	}
	if (memcmp(l.mac, r->mac, 6) &&
	    (rc = netd_nl_link_set_mac(host_nl, l.ifindex, r->mac, &ctx->err)) < 0)
		return rc;
	if (r->mtu && l.mtu != r->mtu &&
	    (rc = netd_nl_link_set_mtu(host_nl, l.ifindex, r->mtu, &ctx->err)) < 0)
		return rc;
	if (strcmp(l.alias, r->alias) &&
	    (rc = netd_nl_link_set_alias(host_nl, l.ifindex, r->alias, &ctx->err)) < 0)
		return rc;
	if (l.up != r->up && (rc = netd_nl_link_set_up(host_nl, l.ifindex, r->up, &ctx->err)) < 0)
		return rc;
	return 0;
}

/* Find the device of (cid, ifname) in the container (ctr_nl may be NULL)
 * or on the host. *where is ctr_nl or NULL (host). The record comes from
 * the state file when there is one, else from the device's alias. */
static int locate(struct cni_ctx *ctx, struct netd_nl *host_nl, struct netd_nl *ctr_nl, const char *cid,
		  const char *ifname, struct netd_host_rec *r, struct netd_link *out, struct netd_nl **where)
{
	bool have = netd_host_rec_load(state_dir(ctx), cid, ifname, r) == 0;
	struct netd_link *all = NULL, l;
	size_t n = 0;
	int rc;

	if (ctr_nl) {
		*where = ctr_nl;
		if (netd_nl_link_get(ctr_nl, ifname, &l, NULL) == 0 &&
		    (netd_host_rec_alias_is(l.alias, cid, ifname) || (have && l.ifindex == r->ifindex)))
			goto found;
		/* renamed inside the container */
		if (have && netd_nl_link_get_index(ctr_nl, r->ifindex, &l, NULL) == 0)
			goto found;
	}
	/* Back on the host: the kernel returns a physical device to the
	 * initial netns when its netns goes, under the container's name or a
	 * "devN" one; our alias or the recorded index and MAC tell it. */
	*where = NULL;
	if ((rc = netd_nl_link_list(host_nl, &all, &n, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (netd_host_rec_alias_is(all[i].alias, cid, ifname) ||
		    (have && all[i].ifindex == r->ifindex && !memcmp(all[i].mac, r->mac, 6) &&
		     strcmp(all[i].name, r->orig))) {
			l = all[i];
			free(all);
			goto found;
		}
	}
	free(all);
	return -ENOENT;
found:
	if (!have && !netd_host_rec_from_alias(l.alias, r))
		return -ENOENT;
	*out = l;
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

/* The device must be free: not lo, not still held by another container. */
static int check_free(struct cni_ctx *ctx, const struct netd_link *dev)
{
	struct netd_host_rec other;

	if (dev->ifindex == 1 || !strcmp(dev->name, "lo"))
		return cni_conf_err(ctx, "device '%s' is the loopback device", dev->name);
	if (netd_host_rec_from_alias(dev->alias, &other))
		return in_use(ctx,
			      "device %s is still held by container %s as %s (its netns went away without a DEL); "
			      "run DEL for it first",
			      dev->name, other.cid, other.ifname);
	return 0;
}

struct tag_undo {
	int ifindex;
	char alias[NETD_HOST_REC_ALIAS_MAX];
};

/* The tag goes, unless the device is no longer here as ours (moved back
 * and restored already). */
static void undo_tag(struct netd_attach *a, void *data)
{
	struct tag_undo *u = data;
	struct netd_link l;

	if (netd_nl_link_get_index(a->host, u->ifindex, &l, NULL) == 0 &&
	    netd_host_rec_alias_is(l.alias, a->ctx->container_id, a->ctx->ifname))
		netd_nl_link_set_alias(a->host, u->ifindex, u->alias, &a->ctx->err);
}

/* Back to the host as it was. */
static void undo_move(struct netd_attach *a, void *data)
{
	struct netd_link l;

	if (netd_nl_link_get(a->ctr, a->ctx->ifname, &l, NULL) == 0)
		restore(a->ctx, a->host, a->ctr, l.ifindex, data);
}

static void undo_state(struct netd_attach *a, void *data)
{
	(void)data;
	netd_host_rec_remove(state_dir(a->ctx), a->ctx->container_id, a->ctx->ifname);
}

/* Tag the device with the record, then move it in under CNI_IFNAME in one
 * request; addresses, up, routes, and the state file. */
static int move_in(struct netd_attach *a, const struct netd_link *dev, struct netd_host_rec *r, struct netd_link *l)
{
	struct cni_ctx *ctx = a->ctx;
	struct tag_undo tu = {.ifindex = dev->ifindex};
	char alias[NETD_HOST_REC_ALIAS_MAX];
	int rc;

	snprintf(r->orig, sizeof(r->orig), "%s", dev->name);
	memcpy(r->mac, dev->mac, 6);
	r->mtu = dev->mtu;
	r->up = dev->up;
	snprintf(r->cid, sizeof(r->cid), "%s", ctx->container_id);
	snprintf(r->ifname, sizeof(r->ifname), "%s", ctx->ifname);
	snprintf(r->netns, sizeof(r->netns), "%s", ctx->netns);
	snprintf(r->network, sizeof(r->network), "%s", ctx->network);
	snprintf(r->alias, sizeof(r->alias), "%s", dev->alias);
	snprintf(tu.alias, sizeof(tu.alias), "%s", dev->alias);
	netd_host_rec_alias(r, alias);
	if ((rc = netd_nl_link_set_alias(a->host, dev->ifindex, alias, &ctx->err)) < 0 ||
	    (rc = netd_attach_undo_push(a, undo_tag, &tu, sizeof(tu))) < 0 ||
	    (rc = netd_nl_link_move(a->host, dev->ifindex, a->nsfd, ctx->ifname, &ctx->err)) < 0 ||
	    (rc = netd_attach_undo_push(a, undo_move, r, sizeof(*r))) < 0 ||
	    (rc = netd_nl_link_get(a->ctr, ctx->ifname, l, &ctx->err)) < 0)
		return rc;
	r->ifindex = l->ifindex;
	if ((rc = netd_ifconf_apply(a->ctr, l->ifindex, a->ipam, false, &ctx->err)) < 0 ||
	    (rc = netd_host_rec_save(state_dir(ctx), r, &ctx->err)) < 0)
		return rc;
	return netd_attach_undo_push(a, undo_state, NULL, 0);
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct host_conf c;
	struct netd_attach a;
	struct netd_link dev = {.name = "?"}, l;
	struct netd_host_rec r = {0};
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = parse_device(ctx, &c)) < 0)
		return rc;
	if ((rc = netd_attach_begin(&a, ctx, ctx->network, NETD_ATTACH_HOST | NETD_ATTACH_CTR)) < 0)
		return rc;
	/* A repeated ADD finds the device gone from the host (code 102). */
	if ((rc = find_device(ctx, a.host, &c, &dev)) < 0 || (rc = check_free(ctx, &dev)) < 0)
		goto out;
	if ((rc = netd_attach_ipam_add(&a, c.ipam_type)) < 0 || (rc = move_in(&a, &dev, &r, &l)) < 0 ||
	    (rc = netd_attach_result(&a, &l, false)) < 0)
		netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "device %s", dev.name);
out:
	return netd_attach_end(&a, rc < 0 ? rc : 0);
}

/* Give back the device of (cid, ifname) from netns `netns` (may be NULL or
 * gone). 0 also when there is nothing to give back. */
static int give_back(struct cni_ctx *ctx, struct netd_nl *host_nl, const char *cid, const char *ifname,
		     const char *netns)
{
	struct netd_nl *ctr_nl = NULL, *where = NULL;
	struct netd_link l;
	struct netd_host_rec r;
	int rc, nsfd = -1;

	if (netns && (nsfd = netns_open(netns, NULL)) >= 0 && netd_nl_open(nsfd, &ctr_nl, NULL) < 0)
		ctr_nl = NULL;
	rc = locate(ctx, host_nl, ctr_nl, cid, ifname, &r, &l, &where);
	if (rc == -ENOENT) {
		/* A virtual device dies with its netns; a physical one the
		 * kernel hands to the initial netns, which may not be ours. */
		if (netd_host_rec_load(state_dir(ctx), cid, ifname, &r) == 0)
			log_warn("%s (was %s) is neither in the container nor on the host; forgetting it",
				 ifname, r.orig);
		rc = 0;
	} else if (rc == 0) {
		rc = restore(ctx, host_nl, where, l.ifindex, &r);
	}
	if (rc == 0)
		netd_host_rec_remove(state_dir(ctx), cid, ifname);
	else
		netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "give back %s of %s", ifname, cid);
	netd_nl_free(ctr_nl);
	if (nsfd >= 0)
		close(nsfd);
	return rc;
}

static int cmd_del(struct cni_ctx *ctx)
{
	struct host_conf c;
	struct netd_attach a;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 ||
	    (rc = netd_attach_del_begin(&a, ctx, ctx->network, NETD_ATTACH_HOST, c.ipam_type)) < 0)
		return rc;
	if (give_back(ctx, a.host, ctx->container_id, ctx->ifname, ctx->netns) < 0)
		netd_attach_collect(&a);
	return netd_attach_del_end(&a);
}

static int check_device(struct netd_attach *a, const struct host_conf *c, const struct netd_link *l)
{
	struct cni_ctx *ctx = a->ctx;
	struct netd_host_rec r;
	bool have = netd_host_rec_load(state_dir(ctx), ctx->container_id, ctx->ifname, &r) == 0;

	if (!netd_host_rec_alias_is(l->alias, ctx->container_id, ctx->ifname) && !(have && l->ifindex == r.ifindex))
		return cni_drift(ctx, "interface %s is not the device netd-host moved in", ctx->ifname);
	if (have && c->device && strcmp(r.orig, c->device))
		return cni_drift(ctx, "interface %s is host device %s, not %s", ctx->ifname, r.orig, c->device);
	/* The device keeps its own MTU in the container. */
	return netd_attach_check_link(ctx, a->ctr, l, NULL, have ? r.mtu : 0);
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct host_conf c;
	struct netd_attach a;
	struct netd_link l;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = parse_device(ctx, &c)) < 0 ||
	    (rc = netd_attach_check_begin(&a, ctx, c.ipam_type, NETD_ATTACH_CTR, &l)) < 0)
		return rc;
	return netd_attach_end(&a, check_device(&a, &c, &l));
}

/* GC (under the lock): IPAM frees reservations; devices this network moved
 * into containers that are no longer valid attachments go back to the host. */
static int cmd_gc(struct cni_ctx *ctx)
{
	struct host_conf c;
	struct netd_attach a;
	struct netd_host_rec *recs = NULL;
	size_t n = 0;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = netd_attach_begin(&a, ctx, ctx->network, NETD_ATTACH_HOST)) < 0)
		return rc;
	if (netd_ipam_run(ctx, c.ipam_type, CNI_CMD_GC) < 0)
		netd_attach_collect(&a);
	if (netd_host_rec_list(state_dir(ctx), &recs, &n) < 0) {
		netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "GC: out of memory");
		netd_attach_collect(&a);
	}
	for (size_t i = 0; i < n; i++) {
		const struct netd_host_rec *r = &recs[i];

		if (!strcmp(r->network, ctx->network) && !cni_attachment_valid(ctx, r->cid, r->ifname) &&
		    give_back(ctx, a.host, r->cid, r->ifname, r->netns) < 0)
			netd_attach_collect(&a);
	}
	free(recs);
	return netd_attach_del_end(&a);
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct host_conf c;

	return parse_conf(ctx, &c) < 0 ? -EINVAL : netd_ipam_run(ctx, c.ipam_type, CNI_CMD_STATUS);
}

CNI_PLUGIN_MAIN("netd-host", cmd_add, cmd_del, cmd_check, cmd_gc, cmd_status)
