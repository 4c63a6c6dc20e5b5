/* nft.c — the plugins' one-call DEL over the masquerade and macspoofchk
 * tables (owner tags and GC selection are nft_owner.c, below both). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netd/nft.h"
#include "netd/nft_log.h"

static int del_op(struct netd_nft_conn *c, void *arg, struct netd_err *err)
{
	const struct netd_nft_del_req *q = arg;
	struct netd_nft_batch b;
	int rc;

	if ((rc = netd_nft_batch_init(&b, c)) < 0)
		return netd_err_set(err, rc, NETD_ERR_INTERNAL, "nftables: out of memory");
	if (q->masq)
		rc = netd_nft_masq_batch_del(c, &b, q->owner, q->addrs, q->naddrs, err);
	if (q->macspoof && rc == 0)
		rc = netd_nft_macspoof_batch_del(c, &b, q->owner, q->host_ifname, err);
	if (rc == 0)
		rc = netd_nft_batch_send(c, &b, err);	/* no-op when nothing was picked */
	/* found or not: a DEL that ran while its table was gone must still
	 * keep netd from putting the owner's elements back (nft_log.h) */
	if (rc == 0)
		rc = netd_nft_log_gone(c, q->owner, (q->masq ? NETD_NFT_LOG_MASQ : 0) |
						    (q->macspoof ? NETD_NFT_LOG_MACSPOOF : 0), err);
	netd_nft_batch_free(&b);
	return rc < 0 ? rc : 0;
}

int netd_nft_del(const struct netd_nft_del_req *req, struct netd_err *err)
{
	size_t i;
	int rc;

	if (!req || !netd_nft_owner_ok(req->owner))
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "nftables: invalid owner tag");
	if (req->macspoof && req->host_ifname && !netd_nft_macspoof_ifname_ok(req->host_ifname))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nftables: macspoofchk: bad interface name");
	for (i = 0; req->addrs && i < req->naddrs; i++)
		if (req->addrs[i].family != AF_INET && req->addrs[i].family != AF_INET6)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "nftables: address family not IPv4/IPv6");
	if (!req->masq && !req->macspoof)
		return 0;
	rc = netd_nft_locked(del_op, (void *)req, err);
	if (rc < 0)
		netd_err_prefix(err, NETD_ERR_KERNEL, "removing nftables elements of %s", req->owner);
	return rc;
}
