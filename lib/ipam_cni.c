/* ipam_cni.c — netd-ipam's CNI commands over the allocator in ipam.c: the
 * handlers behind the netd-ipam binary, which a main plugin also runs
 * in-process (cni_invoke, chosen in lib/attach.c) so that it need not exec
 * one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netd/cni.h"
#include "netd/ipam.h"
#include "netd/resolv.h"

static int load(struct cni_ctx *ctx, struct netd_ipam_conf **c)
{
	return netd_ipam_conf_parse(ctx->config, c, &ctx->err);
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct netd_ipam_store *s = NULL;
	struct netd_ipam_conf *c;
	struct cni_ip *ips = NULL;
	int rc;

	if ((rc = load(ctx, &c)) < 0)
		return rc;
	if ((rc = netd_ipam_conf_requests(c, ctx->runtime_config,
					  ctx->conf_args, cni_arg(ctx, "IP"), &ctx->err)) < 0)
		goto out;
	if (!(ips = calloc(c->n_sets, sizeof(*ips))) || !(ctx->result = cni_result_new())) {
		rc = netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
		goto out;
	}
	/* Everything that can fail on input goes before the first reservation. */
	if (c->resolv_conf && (rc = netd_resolv_conf_read(c->resolv_conf, &ctx->result->dns, &ctx->err)) < 0) {
		netd_err_prefix(&ctx->err, CNI_ERR_IO, "ipam.resolvConf");
		goto out;
	}
	if ((rc = netd_ipam_store_open(c->data_dir, c->network, &s, &ctx->err)) < 0)
		goto out;
	if ((rc = netd_ipam_allocate(c, s, ctx->container_id, ctx->ifname, ips, &ctx->err)) < 0)
		goto out;
	/* Every address was held already: a repeated ADD, which must not
	 * release them when it fails later on. */
	ctx->unchanged = rc == 0;
	rc = netd_ipam_result(c, ips, ctx->result, &ctx->err);
out:
	netd_ipam_store_close(s);
	free(ips);
	netd_ipam_conf_free(c);
	return rc;
}

/* DEL on a network that never had a directory has nothing to do; do not
 * create one just to find that out. */
static bool net_dir_exists(const struct netd_ipam_conf *c)
{
	char *path;
	struct stat st;
	bool yes;

	if (asprintf(&path, "%s/%s", c->data_dir, c->network) < 0)
		return true;
	yes = stat(path, &st) == 0 || errno != ENOENT;
	free(path);
	return yes;
}

static int cmd_del(struct cni_ctx *ctx)
{
	struct netd_ipam_store *s = NULL;
	struct netd_ipam_conf *c;
	int rc;

	if ((rc = load(ctx, &c)) < 0)
		return rc;
	if (net_dir_exists(c) && (rc = netd_ipam_store_open(c->data_dir, c->network, &s, &ctx->err)) == 0)
		rc = netd_ipam_release(s, ctx->container_id, ctx->ifname, &ctx->err);
	netd_ipam_store_close(s);
	netd_ipam_conf_free(c);
	return rc < 0 ? rc : 0;
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct netd_ipam_store *s = NULL;
	struct netd_addr *addrs = NULL;
	struct netd_ipam_conf *c;
	size_t n = 0;
	int rc;

	if ((rc = load(ctx, &c)) < 0)
		return rc;
	if (ctx->prev && ctx->prev->n_ips && !(addrs = calloc(ctx->prev->n_ips, sizeof(*addrs)))) {
		rc = netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; ctx->prev && i < ctx->prev->n_ips; i++)
		addrs[n++] = ctx->prev->ips[i].address.addr;
	if ((rc = netd_ipam_store_open(c->data_dir, c->network, &s, &ctx->err)) == 0)
		rc = netd_ipam_check(c, s, ctx->container_id, ctx->ifname, addrs, n, &ctx->err);
out:
	netd_ipam_store_close(s);
	free(addrs);
	netd_ipam_conf_free(c);
	return rc;
}

static int cmd_gc(struct cni_ctx *ctx)
{
	struct netd_ipam_attachment *valid = NULL;
	struct netd_ipam_store *s = NULL;
	struct netd_ipam_conf *c;
	int rc;

	if ((rc = load(ctx, &c)) < 0)
		return rc;
	/* the skeleton checked the list; an empty one releases everything */
	if (ctx->n_valid && !(valid = calloc(ctx->n_valid, sizeof(*valid)))) {
		rc = netd_err_set(&ctx->err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ctx->n_valid; i++) {
		valid[i].id = ctx->valid[i].container_id;
		valid[i].ifname = ctx->valid[i].ifname;
	}
	if (net_dir_exists(c) && (rc = netd_ipam_store_open(c->data_dir, c->network, &s, &ctx->err)) == 0)
		rc = netd_ipam_gc(s, valid, ctx->n_valid, &ctx->err);
out:
	netd_ipam_store_close(s);
	free(valid);
	netd_ipam_conf_free(c);
	return rc < 0 ? rc : 0;
}

static int cmd_status(struct cni_ctx *ctx)
{
	struct netd_ipam_conf *c;
	int rc;

	if ((rc = netd_ipam_conf_parse(ctx->config, &c, &ctx->err)) < 0)
		return rc;
	rc = netd_ipam_status(c, &ctx->err);
	netd_ipam_conf_free(c);
	return rc;
}

const struct cni_plugin netd_ipam_plugin = {
	.name = "netd-ipam",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int netd_ipam_cni_held(const struct cni_ctx *ctx, struct netd_err *err)
{
	struct netd_ipam_lease *all = NULL;
	struct netd_ipam_store *s = NULL;
	struct netd_ipam_conf *c;
	size_t n = 0;
	int rc;

	if ((rc = netd_ipam_conf_parse(ctx->config, &c, err)) < 0)
		return rc;
	if (net_dir_exists(c) && (rc = netd_ipam_store_open(c->data_dir, c->network, &s, err)) == 0 &&
	    (rc = netd_ipam_store_list(s, &all, &n, err)) == 0)
		for (size_t i = 0; i < n && !rc; i++)
			rc = netd_ipam_lease_match(&all[i], ctx->container_id, ctx->ifname);
	netd_ipam_leases_free(all, n);
	netd_ipam_store_close(s);
	netd_ipam_conf_free(c);
	return rc;
}
