/* netd-loopback — Docker's `none` network: the container's `lo` up with
 * 127.0.0.1/8 and ::1, nothing else.
 *
 * ADD: bring lo up; the kernel gives it its addresses when it comes up, but
 * a netns whose addresses were flushed gets them back here (::1 only where
 * IPv6 is enabled). DEL leaves lo alone: it belongs to the netns and goes with
 * it, and taking it down would break a container that shares the netns with
 * other networks. CHECK verifies lo is up with 127.0.0.1. GC and STATUS have
 * nothing to do. See docs/netd-loopback.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netd/cni.h"
#include "netd/netns.h"
#include "netd/nl.h"

struct lo_addrs {
	struct netd_prefix v4, v6;
	bool has_v4, has_v6;
};

static void find_addrs(const struct netd_prefix *a, size_t n, struct lo_addrs *out)
{
	for (size_t i = 0; i < n; i++) {
		if (netd_addr_eq(&a[i].addr, &out->v4.addr))
			out->has_v4 = true;
		if (netd_addr_eq(&a[i].addr, &out->v6.addr))
			out->has_v6 = true;
	}
}

static int lo_addrs_get(struct cni_ctx *ctx, struct netd_nl *nl, int idx, struct lo_addrs *out)
{
	struct netd_prefix *have = NULL;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	netd_prefix_parse("127.0.0.1/8", &out->v4);
	netd_prefix_parse("::1/128", &out->v6);
	if ((rc = netd_nl_addr_list(nl, idx, 0, &have, &n, &ctx->err)) < 0)
		return rc;
	find_addrs(have, n, out);
	free(have);
	return 0;
}

static bool ipv6_enabled(int nsfd)
{
	char v[8] = "";

	return netns_sysctl_get(nsfd, "net/ipv6/conf/lo/disable_ipv6", v, sizeof(v), NULL) == 0 &&
	       !strcmp(v, "0");
}

static int build_result(struct cni_ctx *ctx, const struct lo_addrs *a)
{
	struct cni_result *r = ctx->prev ? cni_result_dup(ctx->prev) : cni_result_new();
	struct cni_iface f = {.mac = "00:00:00:00:00:00"};
	int idx;

	if (!r)
		return -ENOMEM;
	snprintf(f.name, sizeof(f.name), "lo");
	snprintf(f.sandbox, sizeof(f.sandbox), "%s", ctx->netns);
	if ((idx = cni_result_add_iface(r, &f)) < 0)
		goto nomem;
	if (a->has_v4 && cni_result_add_ip(r, &(struct cni_ip){.address = a->v4, .iface = idx}) < 0)
		goto nomem;
	if (a->has_v6 && cni_result_add_ip(r, &(struct cni_ip){.address = a->v6, .iface = idx}) < 0)
		goto nomem;
	ctx->result = r;
	return 0;
nomem:
	cni_result_free(r);
	return -ENOMEM;
}

static int cmd_add(struct cni_ctx *ctx)
{
	struct netd_nl *nl = NULL;
	struct netd_link lo;
	struct lo_addrs a;
	int rc, nsfd;

	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0)
		return rc;
	if ((rc = netd_nl_open(nsfd, &nl, &ctx->err)) < 0)
		goto out;
	if ((rc = netd_nl_link_get(nl, "lo", &lo, &ctx->err)) < 0) {
		if (rc == -ENODEV)
			rc = netd_err_set(&ctx->err, rc, NETD_ERR_KERNEL, "netns %s has no lo", ctx->netns);
		goto out;
	}
	if (!lo.up && (rc = netd_nl_link_set_up(nl, lo.ifindex, true, &ctx->err)) < 0)
		goto out;
	if ((rc = lo_addrs_get(ctx, nl, lo.ifindex, &a)) < 0)
		goto out;
	if (!a.has_v4) {
		if ((rc = netd_nl_addr_add(nl, lo.ifindex, &a.v4, false, &ctx->err)) < 0)
			goto out;
		a.has_v4 = true;
	}
	if (!a.has_v6 && ipv6_enabled(nsfd)) {
		if ((rc = netd_nl_addr_add(nl, lo.ifindex, &a.v6, true, &ctx->err)) < 0)
			goto out;
		a.has_v6 = true;
	}
	rc = build_result(ctx, &a);
out:
	if (rc < 0)
		netd_err_prefix(&ctx->err, NETD_ERR_INTERNAL, "lo in %s", ctx->netns);
	netd_nl_free(nl);
	close(nsfd);
	return rc;
}

/* lo belongs to the netns: nothing to undo, whatever state it is in. */
static int cmd_del(struct cni_ctx *ctx)
{
	return 0;
}

static int cmd_check(struct cni_ctx *ctx)
{
	struct netd_nl *nl = NULL;
	struct netd_link lo;
	struct lo_addrs a;
	int rc, nsfd;

	if (!ctx->prev)
		return netd_err_set(&ctx->err, -EINVAL, CNI_ERR_INVALID_CONFIG, "CHECK needs prevResult");
	if ((nsfd = rc = netns_open(ctx->netns, &ctx->err)) < 0)
		return rc;
	if ((rc = netd_nl_open(nsfd, &nl, &ctx->err)) < 0)
		goto out;
	if (netd_nl_link_get(nl, "lo", &lo, NULL) < 0)
		rc = netd_err_set(&ctx->err, -ENODEV, NETD_ERR_DRIFT, "netns %s has no lo", ctx->netns);
	else if (!lo.up)
		rc = netd_err_set(&ctx->err, -EINVAL, NETD_ERR_DRIFT, "lo in netns %s is down", ctx->netns);
	else if ((rc = lo_addrs_get(ctx, nl, lo.ifindex, &a)) == 0 && !a.has_v4)
		rc = netd_err_set(&ctx->err, -EINVAL, NETD_ERR_DRIFT, "lo in netns %s has no 127.0.0.1/8",
				  ctx->netns);
out:
	netd_nl_free(nl);
	close(nsfd);
	return rc;
}

static int cmd_nothing(struct cni_ctx *ctx)
{
	return 0;
}

CNI_PLUGIN_MAIN("netd-loopback", cmd_add, cmd_del, cmd_check, cmd_nothing, cmd_nothing)
