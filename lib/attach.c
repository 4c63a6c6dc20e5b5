/* attach.c — the main plugins' kit: an attachment's lock, netns, netlink
 * handles, IPAM step and undo stack, and the config helpers they share. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netd/attach.h"
#include "netd/ifconf.h"
#include "netd/ipam.h"
#include "netd/lock.h"
#include "netd/log.h"
#include "netd/netns.h"
#include "netd/nft.h"

int netd_attach_begin(struct netd_attach *a, struct cni_ctx *ctx, const char *lock_name, unsigned want)
{
	struct netd_link l;
	int rc = 0;

	*a = (struct netd_attach){.ctx = ctx, .lock = -1, .nsfd = -1};
	if (ctx->cmd == CNI_CMD_ADD && (rc = netd_conf_dns(ctx, &a->dns)) < 0)
		goto fail;
	if (lock_name && (a->lock = rc = netd_lock_acquire(cni_getenv(ctx->envp, "NETD_LOCK_DIR"), lock_name,
							   NETD_ATTACH_LOCK_MS, &ctx->err)) < 0)
		goto fail;
	if (want & NETD_ATTACH_CTR) {
		if ((a->nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0 ||
		    (rc = netd_nl_open(a->nsfd, &a->ctr, &ctx->err)) < 0)
			goto fail;
	} else if ((want & NETD_ATTACH_CTR_IF_THERE) && ctx->netns && (a->nsfd = netns_open(ctx->netns, NULL)) >= 0 &&
		   netd_nl_open(a->nsfd, &a->ctr, NULL) < 0) {
		a->ctr = NULL;
	}
	if ((want & NETD_ATTACH_HOST) && (rc = netd_nl_open(-1, &a->host, &ctx->err)) < 0)
		goto fail;
	if (ctx->cmd == CNI_CMD_ADD && (want & NETD_ATTACH_CTR) && netd_nl_link_get(a->ctr, ctx->ifname, &l, NULL) == 0) {
		rc = netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE, "interface %s already exists in netns %s",
				  ctx->ifname, ctx->netns);
		goto fail;
	}
	return 0;
fail:
	return netd_attach_end(a, rc < 0 ? rc : -EINVAL);
}

int netd_attach_undo_push(struct netd_attach *a, netd_undo_fn fn, const void *data, size_t size)
{
	struct netd_attach_undo *u = realloc(a->undo, (a->n_undo + 1) * sizeof(*u));
	void *copy = malloc(size ? size : 1);

	if (u)
		a->undo = u;
	if (!u || !copy) {
		free(copy);
		/* The step is done but cannot be remembered: undo it now. */
		fn(a, (void *)data);
		return netd_err_set(&a->ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	}
	if (size)
		memcpy(copy, data, size);
	a->undo[a->n_undo++] = (struct netd_attach_undo){.fn = fn, .data = copy};
	return 0;
}

int netd_attach_end(struct netd_attach *a, int rc)
{
	struct cni_ctx *ctx = a->ctx;

	if (rc < 0 && a->n_undo) {
		struct netd_err saved = ctx->err;

		for (size_t i = a->n_undo; i-- > 0;) {
			memset(&ctx->err, 0, sizeof(ctx->err));
			a->undo[i].fn(a, a->undo[i].data);
			if (netd_err_isset(&ctx->err))
				log_warn("undo: %s", ctx->err.msg);
		}
		ctx->err = saved;
	}
	for (size_t i = 0; i < a->n_undo; i++)
		free(a->undo[i].data);
	free(a->undo);
	cni_result_free(a->ipam);
	cni_result_free(a->dns);
	netd_nl_free(a->ctr);
	netd_nl_free(a->host);
	if (a->nsfd >= 0)
		close(a->nsfd);
	netd_lock_release(a->lock);
	*a = (struct netd_attach){.ctx = ctx, .lock = -1, .nsfd = -1};
	return rc;
}

void netd_attach_undo_host_link(struct netd_attach *a, void *name)
{
	struct netd_link l;

	if (netd_nl_link_get(a->host, name, &l, NULL) == 0)
		netd_nl_link_del(a->host, l.ifindex, &a->ctx->err);
}

/* ---- DEL ---- */

int netd_attach_del_begin(struct netd_attach *a, struct cni_ctx *ctx, const char *lock_name, unsigned want,
			  const char *ipam_type)
{
	int rc;

	if ((rc = netd_attach_begin(a, ctx, lock_name, want)) < 0)
		return rc;
	if (netd_ipam_run(ctx, ipam_type, CNI_CMD_DEL) < 0)
		netd_attach_collect(a);
	return 0;
}

void netd_attach_collect(struct netd_attach *a)
{
	netd_err_collect(&a->first, &a->ctx->err);
}

int netd_attach_del_end(struct netd_attach *a)
{
	struct netd_err first = a->first;

	return netd_attach_end(a, netd_err_collected(&first, &a->ctx->err));
}

bool netd_attach_del_ctr_link(struct netd_attach *a, const char *kind)
{
	struct netd_link l;
	int rc;

	if (!a->ctr || netd_nl_link_get(a->ctr, a->ctx->ifname, &l, NULL) < 0 || strcmp(l.kind, kind))
		return false;
	if ((rc = netd_nl_link_del(a->ctr, l.ifindex, &a->ctx->err)) < 0 && rc != -ENODEV)
		netd_attach_collect(a);
	return true;
}

/* ---- IPAM ---- */

/* netd-ipam's handlers run here rather than in an exec'd binary (about 1 ms
 * of CPU, 15-30% of an ADD on a small VM); NETD_IPAM_EXEC=1 forces the exec. */
static bool in_process(const struct cni_ctx *ctx, const char *type)
{
	return !strcmp(type, "netd-ipam") && !cni_getenv(ctx->envp, "NETD_IPAM_EXEC");
}

/* Types whose reservations live in netd-ipam's on-disk layout. */
static bool known_store(const char *type)
{
	return !strcmp(type, "netd-ipam") || !strcmp(type, "host-local");
}

static int ipam_call(struct cni_ctx *ctx, const char *type, enum cni_command cmd, struct cni_result **out)
{
	int rc;

	if (in_process(ctx, type))
		rc = cni_invoke(ctx, &netd_ipam_plugin, cmd, out, &ctx->err);
	else
		rc = cni_delegate(ctx, type, cmd, ctx->config, out, 0, &ctx->err);
	if (rc < 0)
		netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "ipam");
	return rc;
}

int netd_ipam_run(struct cni_ctx *ctx, const char *type, enum cni_command cmd)
{
	int rc = type ? ipam_call(ctx, type, cmd, NULL) : 0;

	return rc < 0 ? rc : 0;
}

/* IPAM DEL with the ADD's error kept. */
static void ipam_release(struct cni_ctx *ctx, const char *type)
{
	struct netd_err saved = ctx->err;

	memset(&ctx->err, 0, sizeof(ctx->err));
	if (ipam_call(ctx, type, CNI_CMD_DEL, NULL) < 0)
		log_warn("undo: %s", ctx->err.msg);
	ctx->err = saved;
}

static void undo_ipam(struct netd_attach *a, void *data)
{
	(void)data;
	ipam_release(a->ctx, a->ipam_type);
}

static int held_already(struct cni_ctx *ctx)
{
	return netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE,
			    "container %s is already attached to network %s as %s (IPAM holds its address): "
			    "a repeated ADD needs a DEL first",
			    ctx->container_id, ctx->network, ctx->ifname);
}

int netd_attach_ipam_add(struct netd_attach *a, const char *type)
{
	struct cni_ctx *ctx = a->ctx;
	bool checked = false;
	int rc;

	a->ipam_type = type;
	if (!type)
		return 0;
	/* An exec'd IPAM plugin may refuse a repeated ADD (host-local: "duplicate
	 * allocation"), and our IPAM DEL after that failure would release the
	 * live container's address: look at the store before asking it. */
	if (!in_process(ctx, type) && known_store(type)) {
		struct netd_err e = {0};

		rc = netd_ipam_cni_held(ctx, &e);
		if (rc == 1)
			return held_already(ctx);
		checked = rc == 0;
		if (rc < 0)
			log_debug("ipam store not readable here (%s); asking %s without a look first", e.msg, type);
	}
	rc = ipam_call(ctx, type, CNI_CMD_ADD, &a->ipam);
	if (rc < 0) {
		/* netd-ipam in-process reserves all or nothing; an exec'd plugin
		 * may have kept half of a dual-stack allocation. */
		if (!in_process(ctx, type) && (checked || !known_store(type)))
			ipam_release(ctx, type);
		return rc;
	}
	if (rc == 1) {
		/* netd-ipam handed back what (container, ifname) already held:
		 * another netns has this attachment. Not ours to release. */
		cni_result_free(a->ipam);
		a->ipam = NULL;
		return held_already(ctx);
	}
	if ((rc = netd_attach_undo_push(a, undo_ipam, NULL, 0)) < 0)
		return rc;
	if (!a->ipam->n_ips)
		return cni_conf_err(ctx, "IPAM plugin %s returned no IP address", type);
	return 0;
}

/* ---- the result ---- */

int netd_attach_result(struct netd_attach *a, const struct netd_link *l, bool default_routes)
{
	struct cni_ctx *ctx = a->ctx;
	int ci = netd_ifconf_result(ctx, l, a->ipam, default_routes);
	struct cni_result *old;

	if (ci < 0 || !a->dns)
		return ci;
	/* The config's dns replaces IPAM's (prevResult's stays). */
	if (!(old = cni_result_new()))
		return -ENOMEM;
	old->dns = ctx->result->dns;
	memset(&ctx->result->dns, 0, sizeof(ctx->result->dns));
	cni_result_free(old);
	if ((ctx->prev && cni_dns_merge(&ctx->result->dns, &ctx->prev->dns) < 0) ||
	    cni_dns_merge(&ctx->result->dns, &a->dns->dns) < 0)
		return -ENOMEM;
	return ci;
}

int netd_attach_check_link(struct cni_ctx *ctx, struct netd_nl *nl, const struct netd_link *l, const char *kind,
			   int want_mtu)
{
	int ci = cni_result_find_iface(ctx->prev, ctx->ifname, true);
	const struct cni_iface *f;
	char mac[18];

	if (ci < 0)
		return cni_drift(ctx, "prevResult has no interface %s in a sandbox", ctx->ifname);
	f = &ctx->prev->ifaces[ci];
	if (kind && strcmp(l->kind, kind))
		return cni_drift(ctx, "interface %s is a '%s', not a %s", ctx->ifname, l->kind, kind);
	if (f->mac[0] && strcasecmp(f->mac, netd_mac_str(l->mac, mac)))
		return cni_drift(ctx, "interface %s has MAC %s, not the one in prevResult", ctx->ifname, mac);
	if (!l->up)
		return cni_drift(ctx, "interface %s in the container is down", ctx->ifname);
	if (!want_mtu)
		want_mtu = f->mtu;
	if (want_mtu && l->mtu != want_mtu)
		return cni_drift(ctx, "interface %s has MTU %d, not %d", ctx->ifname, l->mtu, want_mtu);
	return netd_ifconf_check(ctx, nl, ci, l);
}

int netd_attach_check_begin(struct netd_attach *a, struct cni_ctx *ctx, const char *ipam_type, unsigned want,
			    struct netd_link *ctr)
{
	int rc;

	*a = (struct netd_attach){.ctx = ctx, .lock = -1, .nsfd = -1};
	if (!ctx->prev)
		return cni_conf_err(ctx, "CHECK needs prevResult");
	if (cni_result_find_iface(ctx->prev, ctx->ifname, true) < 0)
		return cni_drift(ctx, "prevResult has no interface %s in a sandbox", ctx->ifname);
	if ((rc = netd_ipam_run(ctx, ipam_type, CNI_CMD_CHECK)) < 0 ||
	    (rc = netd_attach_begin(a, ctx, NULL, want)) < 0)
		return rc;
	if (netd_nl_link_get(a->ctr, ctx->ifname, ctr, NULL) < 0)
		return netd_attach_end(a, cni_drift(ctx, "interface %s does not exist in netns %s", ctx->ifname,
						     ctx->netns));
	return 0;
}

/* ---- containers on a bridge ---- */

struct gw_undo {
	int ifindex;
	struct netd_prefix gw;
};

static void undo_gateway(struct netd_attach *a, void *data)
{
	struct gw_undo *u = data;

	netd_nl_addr_del(a->host, u->ifindex, &u->gw, NULL);
}

/* Reading first spares a write on every ADD. */
static int ensure_forwarding(struct cni_ctx *ctx, int family)
{
	const char *key = family == AF_INET ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
	char v[16] = "";

	if (netns_sysctl_get(-1, key, v, sizeof(v), NULL) == 0 && !strcmp(v, "1"))
		return 0;
	return netns_sysctl_set(-1, key, "1", &ctx->err);
}

int netd_attach_gateway(struct netd_attach *a, const struct netd_link *br, const struct netd_prefix *gw,
			bool replace)
{
	struct cni_ctx *ctx = a->ctx;
	struct netd_prefix *have = NULL;
	char x[NETD_PREFIX_STRLEN], y[NETD_PREFIX_STRLEN];
	size_t n = 0;
	bool present = false;
	int rc;

	if ((rc = netd_nl_addr_list(a->host, br->ifindex, gw->addr.family, &have, &n, &ctx->err)) < 0)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		if (netd_addr_eq(&have[i].addr, &gw->addr))
			present = true;
		else if (!netd_prefix_contains(gw, &have[i].addr) || have[i].len != gw->len)
			continue;
		else if (replace)
			rc = netd_nl_addr_del(a->host, br->ifindex, &have[i], &ctx->err);
		else
			rc = netd_err_set(&ctx->err, -EEXIST, NETD_ERR_IN_USE,
					  "bridge %s already has address %s in this subnet, not the gateway %s", br->name,
					  netd_prefix_str(&have[i], x), netd_prefix_str(gw, y));
	}
	free(have);
	if (rc < 0)
		return rc;
	if (!present && ((rc = netd_nl_addr_add(a->host, br->ifindex, gw, true, &ctx->err)) < 0 ||
			 (rc = netd_attach_undo_push(a, undo_gateway, &(struct gw_undo){.ifindex = br->ifindex, .gw = *gw},
						     sizeof(struct gw_undo))) < 0))
		return rc;
	return ensure_forwarding(ctx, gw->addr.family);
}

int netd_attach_veth(struct netd_attach *a, struct netd_veth_opts *vo, bool default_routes, struct netd_link *ctr)
{
	struct cni_ctx *ctx = a->ctx;
	char key[64];
	int rc;

	vo->peer_name = ctx->ifname;
	vo->peer_nsfd = a->nsfd;
	if ((rc = netd_nl_veth_create(a->host, vo, &ctx->err)) < 0 ||
	    (rc = netd_attach_undo_push(a, netd_attach_undo_host_link, vo->host_name, strlen(vo->host_name) + 1)) < 0)
		return rc;
	/* A bridge port needs no IPv6 of its own. Without this each port gets
	 * a link-local address, routes (whose insertion walks every other
	 * port's) and DAD, router and MLD traffic flooded over the bridge. Best
	 * effort: a kernel without IPv6 has nothing to turn off. */
	snprintf(key, sizeof(key), "net/ipv6/conf/%s/disable_ipv6", vo->host_name);
	netns_sysctl_set(-1, key, "1", NULL);
	if ((rc = netd_nl_link_get(a->ctr, ctx->ifname, ctr, &ctx->err)) < 0)
		return rc;
	return netd_ifconf_apply(a->ctr, ctr->ifindex, a->ipam, default_routes, &ctx->err);
}

static void undo_nft(struct netd_attach *a, void *data)
{
	netd_nft_del(data, &a->ctx->err);
}

int netd_attach_masq(struct netd_attach *a, const char *owner)
{
	int rc;

	for (size_t i = 0; a->ipam && i < a->ipam->n_ips; i++) {
		if ((rc = netd_nft_masq_add(&a->ipam->ips[i].address, owner, &a->ctx->err)) < 0)
			return rc;
		/* one removal takes all of the owner's; owner is the caller's and
		 * outlives the attachment */
		if (i == 0 && (rc = netd_attach_undo_push(a, undo_nft,
							  &(struct netd_nft_del_req){.owner = owner, .masq = true},
							  sizeof(struct netd_nft_del_req))) < 0)
			return rc;
	}
	return 0;
}

int netd_attach_check_masq(struct cni_ctx *ctx, const char *owner)
{
	char buf[NETD_PREFIX_STRLEN];
	int rc;

	for (size_t i = 0; i < ctx->prev->n_ips; i++) {
		if ((rc = netd_nft_masq_has(&ctx->prev->ips[i].address, owner, &ctx->err)) == 0)
			rc = cni_drift(ctx, "masquerade for %s is missing from table inet %s",
				       netd_prefix_str(&ctx->prev->ips[i].address, buf), NETD_NFT_CNI_TABLE);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int gc_nft(struct cni_ctx *ctx, bool masq, bool macspoof)
{
	char (*owners)[33] = calloc(ctx->n_valid + 1, sizeof(*owners));
	const char **keep = calloc(ctx->n_valid + 1, sizeof(*keep));
	int rc = 0;

	if (!owners || !keep)
		rc = netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "GC: out of memory");
	for (size_t i = 0; !rc && i < ctx->n_valid; i++) {
		netd_nft_owner(ctx->network, ctx->valid[i].container_id, ctx->valid[i].ifname, owners[i]);
		keep[i] = owners[i];
	}
	if (!rc && masq)
		rc = netd_nft_masq_gc(ctx->network, keep, ctx->n_valid, &ctx->err);
	if (!rc && macspoof)
		rc = netd_nft_macspoof_gc(ctx->network, keep, ctx->n_valid, &ctx->err);
	free(owners);
	free(keep);
	return rc;
}

int netd_attach_gc(struct cni_ctx *ctx, const char *lock_name, const char *ipam_type, bool masq, bool macspoof)
{
	struct netd_attach a;
	int rc;

	if ((rc = netd_attach_begin(&a, ctx, lock_name, 0)) < 0)
		return rc;
	if ((rc = netd_ipam_run(ctx, ipam_type, CNI_CMD_GC)) == 0 && (masq || macspoof))
		rc = gc_nft(ctx, masq, macspoof);
	return netd_attach_end(&a, rc);
}

/* ---- config helpers ---- */

int netd_conf_mac(struct cni_ctx *ctx, uint8_t mac[6], bool *has)
{
	const char *s = NULL;
	json_t *v;

	*has = false;
	if ((v = cni_runtime_cap(ctx, "mac")) && json_is_string(v))
		s = json_string_value(v);
	if (!s)
		s = cni_arg(ctx, "MAC");
	if (!s && ctx->conf_args)
		s = json_string_value(json_object_get(json_object_get(ctx->conf_args, "cni"), "mac"));
	if (!s)
		return 0;
	if (netd_mac_parse(s, mac) < 0)
		return cni_conf_err(ctx, "MAC address '%s' does not parse (want aa:bb:cc:dd:ee:ff)", s);
	if (mac[0] & 1)
		return cni_conf_err(ctx, "MAC address '%s' is a multicast address", s);
	if (!memcmp(mac, "\0\0\0\0\0\0", 6))
		return cni_conf_err(ctx, "MAC address '%s' is all zeros", s);
	*has = true;
	return 0;
}

int netd_conf_mtu(struct cni_ctx *ctx, int *mtu)
{
	long long v = 0;
	int rc;

	*mtu = 0;
	if ((rc = cni_conf_int(ctx->config, "mtu", 0, 65535, &v, &ctx->err)) < 0)
		return rc;
	if (v && v < 68)
		return cni_conf_err(ctx, "mtu %lld is below the minimum of 68", v);
	*mtu = (int)v;
	return 0;
}

int netd_conf_ipam(struct cni_ctx *ctx, const char **type)
{
	json_t *ipam = json_object_get(ctx->config, "ipam");
	char path[PATH_MAX];

	*type = NULL;
	if (!ipam || json_is_null(ipam))
		return 0;
	if (!json_is_object(ipam))
		return cni_conf_err(ctx, "field 'ipam' must be an object");
	*type = json_string_value(json_object_get(ipam, "type"));
	if (!*type || !**type) {
		*type = NULL;
		/* An empty object means "no IPAM"; anything else without a type
		 * is a config mistake that would silently make an L2-only network. */
		if (json_object_size(ipam) == 0)
			return 0;
		return cni_conf_err(ctx, "ipam section has no 'type' (name of the IPAM plugin, e.g. \"netd-ipam\")");
	}
	if (ctx->cmd != CNI_CMD_ADD && ctx->cmd != CNI_CMD_CHECK)
		return 0; /* DEL/GC must work even if the plugin binary went away */
	if (!ctx->path)
		return netd_err_set(&ctx->err, -EINVAL, CNI_ERR_INVALID_ENV,
				    "CNI_PATH is not set; it is needed to run IPAM plugin '%s'", *type);
	if (cni_find_plugin(ctx->path, *type, path, sizeof(path)) < 0)
		return cni_conf_err(ctx, "unknown IPAM type '%s': no such plugin in CNI_PATH %s", *type, ctx->path);
	return 0;
}

int netd_conf_dns(struct cni_ctx *ctx, struct cni_result **out)
{
	json_t *d = json_object_get(ctx->config, "dns"), *wrap;
	struct netd_err e = {0};
	struct cni_result *r = NULL;
	int rc;

	*out = NULL;
	if (!d || json_is_null(d))
		return 0;
	if (!json_is_object(d))
		return cni_conf_err(ctx, "field 'dns' must be an object");
	/* A result's dns has the same shape: one parser for both. */
	if (!(wrap = json_pack("{s:s, s:O}", "cniVersion", ctx->version, "dns", d)))
		return netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	rc = cni_result_from_json(wrap, ctx->version, &r, &e);
	json_decref(wrap);
	if (rc < 0)
		return cni_conf_err(ctx, "field 'dns': %s", strncmp(e.msg, "result: ", 8) ? e.msg : e.msg + 8);
	if (!r->dns.n_nameservers && !r->dns.domain && !r->dns.n_search && !r->dns.n_options)
		cni_result_free(r);
	else
		*out = r;
	return 0;
}
