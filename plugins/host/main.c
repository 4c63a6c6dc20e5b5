/* netd-host — move an existing host interface into the container and give
 * it back on DEL (CNI host-device semantics).
 *
 * ADD: validate; find the device on the host by `device` (name), `hwaddr`,
 * `kernelpath` or `pciBusID` (all given must agree); refuse one that is not
 * on the host or still carries another container's record; IPAM ADD; tag
 * the device with an alias recording what DEL needs to restore it
 * ("netd-host:<name>:<mac>:<mtu>:<up|down>:<ifname>:<container>"), then move it into
 * the netns renamed to CNI_IFNAME in one RTM_NEWLINK; addresses, up,
 * routes; and a state file /var/lib/netd/host/<container>@<ifname> with the
 * same record plus the original alias and the container-side ifindex.
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
#include "netd/ifconf.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nl.h"
#include "netd/util.h"

#define STATE_DIR_DEFAULT "/var/lib/netd/host"
#define ALIAS_PREFIX "netd-host:"

struct host_conf {
	const char *device, *hwaddr, *kernelpath, *pci;
	uint8_t mac[6];
	const char *ipam_type; /* NULL = no IPAM */
};

/* What DEL needs to give the device back as it was. */
struct rec {
	char orig[IFNAMSIZ];
	uint8_t mac[6];
	int mtu;
	bool up;
	char cid[256];
	/* state file only: */
	char ifname[IFNAMSIZ];
	char netns[4096];
	char network[256];
	char alias[256]; /* the device's own alias before ADD */
	int ifindex;	 /* inside the container */
	bool from_file;
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

/* ---- the record: alias and state file ----------------------------------- */

/* The device's own alias rides at the end when it fits. */
static void rec_alias(const struct rec *r, char out[256])
{
	int n = snprintf(out, 256, ALIAS_PREFIX "%s:%02x%02x%02x%02x%02x%02x:%d:%s:%s:%s", r->orig, r->mac[0],
			 r->mac[1], r->mac[2], r->mac[3], r->mac[4], r->mac[5], r->mtu, r->up ? "up" : "down",
			 r->ifname, r->cid);

	if (r->alias[0] && n + 1 + strlen(r->alias) < 256)
		snprintf(out + n, 256 - n, ":%s", r->alias);
}

/* Parse our alias; false if it is not one. */
static bool rec_from_alias(const char *alias, struct rec *r)
{
	char name[IFNAMSIZ + 1], mac[13], up[5], ifname[IFNAMSIZ + 1], cid[256];
	int mtu, n = 0;
	unsigned b[6];

	if (strncmp(alias, ALIAS_PREFIX, strlen(ALIAS_PREFIX)))
		return false;
	if (sscanf(alias + strlen(ALIAS_PREFIX), "%16[^:]:%12[0-9a-f]:%d:%4[a-z]:%16[^:]:%255[^:]%n", name,
		   mac, &mtu, up, ifname, cid, &n) != 6 ||
	    (alias[strlen(ALIAS_PREFIX) + n] && alias[strlen(ALIAS_PREFIX) + n] != ':') ||
	    strlen(name) >= IFNAMSIZ || strlen(ifname) >= IFNAMSIZ ||
	    sscanf(mac, "%2x%2x%2x%2x%2x%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return false;
	memset(r, 0, sizeof(*r));
	snprintf(r->orig, sizeof(r->orig), "%s", name);
	for (int i = 0; i < 6; i++)
		r->mac[i] = (uint8_t)b[i];
	r->mtu = mtu;
	r->up = !strcmp(up, "up");
	snprintf(r->cid, sizeof(r->cid), "%s", cid);
	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	if (alias[strlen(ALIAS_PREFIX) + n] == ':')
		snprintf(r->alias, sizeof(r->alias), "%s", alias + strlen(ALIAS_PREFIX) + n + 1);
	return true;
}

static bool alias_is_ours(const char *alias, const char *cid, const char *ifname)
{
	struct rec r;

	return rec_from_alias(alias, &r) && !strcmp(r.cid, cid) && !strcmp(r.ifname, ifname);
}

static const char *state_dir(const struct cni_ctx *ctx)
{
	const char *d = cni_getenv(ctx->envp, "NETD_HOST_STATE_DIR");

	return d && *d ? d : STATE_DIR_DEFAULT;
}

/* "<container>@<ifname>": container ids cannot hold '@', so it splits. */
static void state_path(const struct cni_ctx *ctx, const char *cid, const char *ifname, char *out, size_t len)
{
	snprintf(out, len, "%s/%s@%s", state_dir(ctx), cid, ifname);
}

/* No fsync: the alias in the kernel is the durable copy of the record. */
static int state_save(struct cni_ctx *ctx, const struct rec *r)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], mac[18];
	json_t *j;
	int rc;

	if ((rc = netd_mkdir_p(state_dir(ctx), 0700)) < 0)
		return netd_err_set(&ctx->err, rc, CNI_ERR_IO, "create %s: %s", state_dir(ctx), strerror(-rc));
	state_path(ctx, r->cid, r->ifname, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	j = json_pack("{s:s, s:s, s:i, s:b, s:s, s:s, s:s, s:s, s:s, s:i}", "device", r->orig, "mac",
		      netd_mac_str(r->mac, mac), "mtu", r->mtu, "up", r->up, "alias", r->alias, "containerID",
		      r->cid, "ifname", r->ifname, "netns", r->netns, "network", r->network, "ifindex",
		      r->ifindex);
	if (!j)
		return netd_err_set(&ctx->err, -ENOMEM, CNI_ERR_IO, "out of memory");
	rc = json_dump_file(j, tmp, JSON_COMPACT);
	json_decref(j);
	if (rc < 0 || rename(tmp, path) < 0) {
		rc = -errno ? -errno : -EIO;
		unlink(tmp);
		return netd_err_set(&ctx->err, rc, CNI_ERR_IO, "write %s: %s", path, strerror(-rc));
	}
	return 0;
}

static int state_load_path(const char *path, struct rec *r)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *s;
	int rc = -EINVAL;

	if (!j)
		return access(path, F_OK) < 0 ? -ENOENT : -EINVAL;
	memset(r, 0, sizeof(*r));
#define STR(key, dst)                                                  \
	do {                                                           \
		if (!(s = json_string_value(json_object_get(j, key)))) \
			goto out;                                      \
		snprintf(dst, sizeof(dst), "%s", s);                   \
	} while (0)
	STR("device", r->orig);
	STR("alias", r->alias);
	STR("containerID", r->cid);
	STR("ifname", r->ifname);
	STR("netns", r->netns);
	STR("network", r->network);
#undef STR
	if (!(s = json_string_value(json_object_get(j, "mac"))) || netd_mac_parse(s, r->mac) < 0)
		goto out;
	r->mtu = (int)json_integer_value(json_object_get(j, "mtu"));
	r->up = json_is_true(json_object_get(j, "up"));
	r->ifindex = (int)json_integer_value(json_object_get(j, "ifindex"));
	r->from_file = true;
	rc = 0;
out:
	json_decref(j);
	return rc;
}

static int state_load(const struct cni_ctx *ctx, const char *cid, const char *ifname, struct rec *r)
{
	char path[PATH_MAX];

	state_path(ctx, cid, ifname, path, sizeof(path));
	return state_load_path(path, r);
}

static void state_remove(const struct cni_ctx *ctx, const char *cid, const char *ifname)
{
	char path[PATH_MAX];

	state_path(ctx, cid, ifname, path, sizeof(path));
	unlink(path);
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
		   const struct rec *r)
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
		  const char *ifname, struct rec *r, struct netd_link *out, struct netd_nl **where)
{
	bool have = state_load(ctx, cid, ifname, r) == 0;
	struct netd_link *all = NULL, l;
	size_t n = 0;
	int rc;

	if (ctr_nl) {
		*where = ctr_nl;
		if (netd_nl_link_get(ctr_nl, ifname, &l, NULL) == 0 &&
		    (alias_is_ours(l.alias, cid, ifname) || (have && l.ifindex == r->ifindex)))
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
		struct rec ar;

		if ((rec_from_alias(all[i].alias, &ar) && !strcmp(ar.cid, cid) &&
		     !strcmp(ar.ifname, ifname)) ||
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
	if (!have && !rec_from_alias(l.alias, r))
		return -ENOENT;
	*out = l;
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

/* The device must be free: not lo, not still held by another container. */
static int check_free(struct cni_ctx *ctx, const struct netd_link *dev)
{
	struct rec other;

	if (dev->ifindex == 1 || !strcmp(dev->name, "lo"))
		return cni_conf_err(ctx, "device '%s' is the loopback device", dev->name);
	if (rec_from_alias(dev->alias, &other))
		return in_use(ctx,
			      "device %s is still held by container %s as %s (its netns went away without a DEL); "
			      "run DEL for it first",
			      dev->name, other.cid, other.ifname);
	return 0;
}

struct tag_undo {
	int ifindex;
	char alias[256];
};

/* The tag goes, unless the device is no longer here as ours (moved back
 * and restored already). */
static void undo_tag(struct netd_attach *a, void *data)
{
	struct tag_undo *u = data;
	struct netd_link l;

	if (netd_nl_link_get_index(a->host, u->ifindex, &l, NULL) == 0 &&
	    alias_is_ours(l.alias, a->ctx->container_id, a->ctx->ifname))
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
	state_remove(a->ctx, a->ctx->container_id, a->ctx->ifname);
}

/* Tag the device with the record, then move it in under CNI_IFNAME in one
 * request; addresses, up, routes, and the state file. */
static int move_in(struct netd_attach *a, const struct netd_link *dev, struct rec *r, struct netd_link *l)
{
	struct cni_ctx *ctx = a->ctx;
	struct tag_undo tu = {.ifindex = dev->ifindex};
	char alias[256];
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
	rec_alias(r, alias);
	if ((rc = netd_nl_link_set_alias(a->host, dev->ifindex, alias, &ctx->err)) < 0 ||
	    (rc = netd_attach_undo_push(a, undo_tag, &tu, sizeof(tu))) < 0 ||
	    (rc = netd_nl_link_move(a->host, dev->ifindex, a->nsfd, ctx->ifname, &ctx->err)) < 0 ||
	    (rc = netd_attach_undo_push(a, undo_move, r, sizeof(*r))) < 0 ||
	    (rc = netd_nl_link_get(a->ctr, ctx->ifname, l, &ctx->err)) < 0)
		return rc;
	r->ifindex = l->ifindex;
	if ((rc = netd_ifconf_apply(a->ctr, l->ifindex, a->ipam, false, &ctx->err)) < 0 ||
	    (rc = state_save(ctx, r)) < 0)
		return rc;
	return netd_attach_undo_push(a, undo_state, NULL, 0);
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct host_conf c;
	struct netd_attach a;
	struct netd_link dev = {.name = "?"}, l;
	struct rec r = {0};
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
	struct rec r;
	int rc, nsfd = -1;

	if (netns && (nsfd = netns_open(netns, NULL)) >= 0 && netd_nl_open(nsfd, &ctr_nl, NULL) < 0)
		ctr_nl = NULL;
	rc = locate(ctx, host_nl, ctr_nl, cid, ifname, &r, &l, &where);
	if (rc == -ENOENT) {
		/* A virtual device dies with its netns; a physical one the
		 * kernel hands to the initial netns, which may not be ours. */
		if (state_load(ctx, cid, ifname, &r) == 0)
			log_warn("%s (was %s) is neither in the container nor on the host; forgetting it",
				 ifname, r.orig);
		rc = 0;
	} else if (rc == 0) {
		rc = restore(ctx, host_nl, where, l.ifindex, &r);
	}
	if (rc == 0)
		state_remove(ctx, cid, ifname);
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
	struct rec r;
	bool have = state_load(ctx, ctx->container_id, ctx->ifname, &r) == 0;

	if (!alias_is_ours(l->alias, ctx->container_id, ctx->ifname) && !(have && l->ifindex == r.ifindex))
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

/* GC: IPAM frees reservations; devices this network moved into containers
 * that are no longer valid attachments go back to the host. */
static int cmd_gc(struct cni_ctx *ctx)
{
	struct host_conf c;
	struct netd_attach a;
	struct netd_err first = {0};
	struct dirent *d;
	DIR *dp;
	int rc;

	if ((rc = parse_conf(ctx, &c)) < 0 || (rc = netd_attach_begin(&a, ctx, ctx->network, 0)) < 0)
		return rc;
	if (netd_ipam_run(ctx, c.ipam_type, CNI_CMD_GC) < 0)
		netd_err_collect(&first, &ctx->err);
	if (!(dp = opendir(state_dir(ctx))))
		goto out;
	if (netd_nl_open(-1, &a.host, &ctx->err) < 0) {
		closedir(dp);
		netd_err_collect(&first, &ctx->err);
		goto out;
	}
	while ((d = readdir(dp))) {
		char path[PATH_MAX];
		struct rec r;

		if (d->d_name[0] == '.' || !strchr(d->d_name, '@') || strstr(d->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", state_dir(ctx), d->d_name);
		if (state_load_path(path, &r) < 0 || strcmp(r.network, ctx->network) ||
		    cni_attachment_valid(ctx, r.cid, r.ifname))
			continue;
		if (give_back(ctx, a.host, r.cid, r.ifname, r.netns) < 0)
			netd_err_collect(&first, &ctx->err);
	}
	closedir(dp);
out:
	return netd_attach_end(&a, netd_err_collected(&first, &ctx->err));
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct host_conf c;

	return parse_conf(ctx, &c) < 0 ? -EINVAL : netd_ipam_run(ctx, c.ipam_type, CNI_CMD_STATUS);
}

CNI_PLUGIN_MAIN("netd-host", cmd_add, cmd_del, cmd_check, cmd_gc, cmd_status)
