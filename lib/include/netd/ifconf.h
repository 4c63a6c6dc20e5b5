/* ifconf.h — what every main plugin does with an IPAM result on the
 * container's interface: apply it, report it, and CHECK it later.
 *
 *   ADD:   netd_ifconf_apply() puts the addresses on (IPv6 without waiting for
 *          DAD: the address came from IPAM), brings the link up, adds the
 *          routes (and default routes via each gateway when asked), in that
 *          order, since routes need an up link with an address of their
 *          gateway's subnet. netd_ifconf_result() appends the interface, its
 *          addresses, routes and DNS to ctx->result (created from prevResult
 *          when empty), so a plugin's own interfaces can be added first.
 *   Routes: one without `gw` goes via the gateway of IPAM's first address
 *          of its family (link scope only when there is none), and is
 *          reported so. default_routes adds a default route per family via
 *          that gateway unless IPAM lists one. A route without a priority
 *          that other interfaces (the container's other networks) already
 *          have gets the metric after theirs (IPv4 from 0, IPv6 from 1024),
 *          so each network keeps its own and the first attached is
 *          preferred. A route already there identically is success; one at
 *          the same metric (with a priority) or on the same interface
 *          (without) that differs is a conflict: -EEXIST, NETD_ERR_IN_USE.
 *   CHECK: netd_ifconf_check() verifies prevResult's addresses for the
 *          interface and its main-table routes against the kernel, and names
 *          the first difference (NETD_ERR_DRIFT).
 */
#ifndef NETD_IFCONF_H
#define NETD_IFCONF_H

#include <stdbool.h>

#include "netd/cni.h"
#include "netd/nl.h"

int netd_ifconf_apply(struct netd_nl *nl, int ifindex, const struct cni_result *ipam, bool default_routes,
		      struct netd_err *err);

/* Append interface `l` (named ctx->ifname, sandbox ctx->netns) and ipam's
 * addresses (on it), routes (plus default routes via gateways when
 * default_routes) and DNS. Returns the interface's index in the result. */
int netd_ifconf_result(struct cni_ctx *ctx, const struct netd_link *l, const struct cni_result *ipam,
		       bool default_routes);

/* Append a host-side interface (no sandbox); returns its index. */
int netd_ifconf_result_host(struct cni_ctx *ctx, const struct netd_link *l);

/* ci: index of the container interface in ctx->prev. */
int netd_ifconf_check(struct cni_ctx *ctx, struct netd_nl *nl, int ci, const struct netd_link *l);

#endif
