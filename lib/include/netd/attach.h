/* attach.h — the kit every main plugin (bridge, macvlan, host, overlay) is
 * built on: one attachment of a container interface for the length of one
 * command, and the config helpers those plugins share.
 *
 * A main plugin's ADD reads like its man page:
 *
 *     struct netd_attach a;
 *     parse the config (netd_conf_* for mac, mtu, ipam, dns), validate;
 *     if ((rc = netd_attach_begin(&a, ctx, lock_name, NETD_ATTACH_HOST | NETD_ATTACH_CTR)) < 0)
 *             return rc;                      // lock, netns, two netlink handles,
 *                                             // CNI_IFNAME must not exist yet
 *     refuse a repeated ADD (our host end for this attachment exists): 102;
 *     if ((rc = netd_attach_ipam_add(&a, ipam_type)) < 0)     // a.ipam
 *             goto out;
 *     each step that changes something, then at once
 *     netd_attach_undo_push(&a, undo_fn, &what, sizeof(what));
 *     netd_attach_result(&a, &link, default_routes);
 *   out:
 *     return netd_attach_end(&a, rc);         // rc < 0: the undo stack runs
 *
 * The undo stack holds only what this call did: an undo is pushed right
 * after its step succeeded, and netd_attach_end() runs them in reverse with
 * the ADD's own error kept in ctx->err (undo failures are logged). IPAM's
 * reservation is on it only when this ADD made one: a reservation that
 * (container, ifname) already held — an ADD repeated into a new netns — is
 * never released by a failing ADD, and is refused (code 102) before
 * anything else is touched.
 *
 * IPAM: netd-ipam runs in-process (cni_invoke of its handlers, the same code
 * and store as the binary; NETD_IPAM_EXEC=1 in the environment execs it
 * instead), any other type is exec'd from CNI_PATH (cni_delegate).
 *
 * DEL, CHECK and GC have the same shape (no undo):
 *
 *     DEL:   netd_attach_del_begin(&a, ctx, lock_name, want, ipam_type);
 *            each removal, netd_attach_collect(&a) after a failure;
 *            return netd_attach_del_end(&a);   // the first error, or 0
 *     CHECK: netd_attach_check_begin(&a, ctx, ipam_type, want, &ctr);
 *            the driver's own pieces, then netd_attach_check_link();
 *            return netd_attach_end(&a, rc);
 *     GC:    netd_attach_gc(ctx, lock_name, ipam_type, masq, macspoof);
 *
 * DEL and GC lock what ADD locks, and DEL opens the netns only if it is
 * still there (NETD_ATTACH_CTR_IF_THERE).
 */
#ifndef NETD_ATTACH_H
#define NETD_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "netd/cni.h"
#include "netd/nl.h"

/* How long ADD/DEL/GC wait for another run on the same lock (then code 11). */
#define NETD_ATTACH_LOCK_MS 30000

enum {
	NETD_ATTACH_HOST = 1,		/* a.host: netlink in the plugin's (host) netns */
	NETD_ATTACH_CTR = 2,		/* a.nsfd + a.ctr: CNI_NETNS, which must exist */
	NETD_ATTACH_CTR_IF_THERE = 4,	/* the same when CNI_NETNS is set and there; else a.ctr NULL */
};

struct netd_attach;
typedef void (*netd_undo_fn)(struct netd_attach *a, void *data);

struct netd_attach_undo {
	netd_undo_fn fn;
	void *data;			/* owned copy */
};

struct netd_attach {
	struct cni_ctx *ctx;
	int lock;			/* -1 = none */
	int nsfd;			/* the container's netns, -1 = not open */
	struct netd_nl *host, *ctr;	/* NULL = not open */
	const char *ipam_type;		/* set by netd_attach_ipam_add */
	struct cni_result *ipam;	/* IPAM's result, NULL = no IPAM (L2 only) */
	struct cni_result *dns;		/* ADD: the config's `dns` (only that), or NULL */
	struct netd_attach_undo *undo;
	size_t n_undo;
	struct netd_err first;		/* DEL: the first error collected */
};

/* Take the lock `lock_name` (NULL = none; CHECK and STATUS take none), then
 * open what `want` asks for. For ADD: the config's `dns` is parsed (code 7),
 * and with NETD_ATTACH_CTR an existing CNI_IFNAME in the netns is code 102.
 * On failure everything is released again (no netd_attach_end needed). */
int netd_attach_begin(struct netd_attach *a, struct cni_ctx *ctx, const char *lock_name, unsigned want);

/* Push an undo for the step that just succeeded; `data` (size bytes) is
 * copied. On -ENOMEM the undo runs at once and the ADD fails. */
int netd_attach_undo_push(struct netd_attach *a, netd_undo_fn fn, const void *data, size_t size);

/* Release everything; when rc < 0 run the undo stack first, newest first.
 * Returns rc. */
int netd_attach_end(struct netd_attach *a, int rc);

/* An undo for a link this call created on the host: `name` (the pushed
 * datum, a string) is deleted if it is there. */
void netd_attach_undo_host_link(struct netd_attach *a, void *name);

/* GC under the lock `lock_name`: IPAM's GC, then the network's masquerade
 * (masq) and macspoofchk (macspoof) elements that no valid attachment
 * owns. Interfaces of vanished containers went with their netns. */
int netd_attach_gc(struct cni_ctx *ctx, const char *lock_name, const char *ipam_type, bool masq, bool macspoof);

/* ---- DEL ---------------------------------------------------------------- */

/* DEL keeps going after an error and reports the first: begin (the lock,
 * what `want` opens: NETD_ATTACH_CTR_IF_THERE, not _CTR), then IPAM DEL
 * (ipam_type NULL: none here). Each later step's failure is kept with
 * netd_attach_collect(); netd_attach_del_end() ends with the first, or 0
 * (a GC that keeps going ends the same way).
 * Nothing left to remove is success (no prior ADD, netns gone, second DEL). */
int netd_attach_del_begin(struct netd_attach *a, struct cni_ctx *ctx, const char *lock_name, unsigned want,
			  const char *ipam_type);
void netd_attach_collect(struct netd_attach *a);
int netd_attach_del_end(struct netd_attach *a);

/* DEL of the container's CNI_IFNAME when it is a `kind` (a link of another
 * kind under that name is not ours); a failure is collected. True when it
 * was there. */
bool netd_attach_del_ctr_link(struct netd_attach *a, const char *kind);

/* ---- IPAM ------------------------------------------------------------- */

/* IPAM ADD for the attachment (type from netd_conf_ipam; NULL = none, a.ipam
 * stays NULL). A reservation (container, ifname) already held is code 102
 * and nothing is released: for types that keep netd-ipam's store (netd-ipam,
 * host-local) that is seen before IPAM is asked. A result without addresses
 * is code 7. A failed ADD is followed by IPAM DEL (the spec's "should", so an
 * exec'd IPAM releases a partial dual-stack reservation) unless nothing can
 * have been reserved. Pushes the IPAM DEL undo when this call reserved. */
int netd_attach_ipam_add(struct netd_attach *a, const char *type);

/* IPAM DEL, CHECK, GC or STATUS with the config's ipam section (type NULL:
 * nothing to do, 0). Errors land in ctx->err prefixed "ipam". */
int netd_ipam_run(struct cni_ctx *ctx, const char *type, enum cni_command cmd);

/* ---- the result ------------------------------------------------------- */

/* Append the container interface `l` with a.ipam's addresses and routes
 * (plus default routes via the gateways when default_routes), and DNS: the
 * network config's `dns` when it sets anything, else IPAM's. Returns the
 * interface's index in ctx->result. */
int netd_attach_result(struct netd_attach *a, const struct netd_link *l, bool default_routes);

/* CHECK of the container interface `l` (CNI_IFNAME, seen through nl)
 * against prevResult: kind (NULL = any), MAC, up, MTU (want_mtu, or
 * prevResult's when 0 and reported), addresses and routes. Names the first
 * drift (code 103). */
int netd_attach_check_link(struct cni_ctx *ctx, struct netd_nl *nl, const struct netd_link *l, const char *kind,
			   int want_mtu);

/* ---- CHECK --------------------------------------------------------------- */

/* CHECK's common start: prevResult is given (else code 7), IPAM's CHECK
 * passes, the attachment is open without a lock (`want` as for begin), and
 * the container interface CNI_IFNAME is in prevResult and in the netns
 * (*ctr; code 103 naming the one missing). The driver then compares its own
 * pieces and ends with netd_attach_check_link() and netd_attach_end(). On
 * failure nothing is left open. */
int netd_attach_check_begin(struct netd_attach *a, struct cni_ctx *ctx, const char *ipam_type, unsigned want,
			    struct netd_link *ctr);

/* ---- containers on a bridge (netd-bridge, netd-overlay) ------------------- */

/* The bridge `br` holds the gateway `gw` (IPAM's gateway with its subnet's
 * length) and forwarding is on for its family; the address's removal is
 * pushed when this call added it. Another address of that subnet on the
 * bridge is removed when `replace`, else refused (NETD_ERR_IN_USE): a second
 * gateway would split the network. */
int netd_attach_gateway(struct netd_attach *a, const struct netd_link *br, const struct netd_prefix *gw,
			bool replace);

/* The veth pair: the container end CNI_IFNAME is born in the netns, the
 * host end vo->host_name joins the bridge vo->master and comes up in the
 * same request (vo's peer fields are filled here). The host end gets no
 * IPv6 of its own; the container end (*ctr) gets a.ipam's addresses and
 * routes (default routes via the gateways when default_routes). Pushes the
 * pair's removal. */
int netd_attach_veth(struct netd_attach *a, struct netd_veth_opts *vo, bool default_routes, struct netd_link *ctr);

/* Masquerade of a.ipam's addresses for `owner` (netd_nft_owner of the
 * attachment); pushes its removal. */
int netd_attach_masq(struct netd_attach *a, const char *owner);

/* CHECK: prevResult's addresses are masqueraded for `owner` (code 103 for
 * the first that is not). */
int netd_attach_check_masq(struct cni_ctx *ctx, const char *owner);


/* ---- config helpers (code 7 in ctx->err) ------------------------------- */

/* The MAC the runtime asks for: runtimeConfig `mac` (capability), CNI_ARGS
 * MAC, args.cni.mac, first found. It must parse, be unicast and not all
 * zeros. *has false when none is asked for. Only ADD needs it: DEL must not
 * fail on it. */
int netd_conf_mac(struct cni_ctx *ctx, uint8_t mac[6], bool *has);

/* `mtu`: absent or 0 leaves *mtu 0 (the kernel's or the parent's); else
 * 68..65535. */
int netd_conf_mtu(struct cni_ctx *ctx, int *mtu);

/* The ipam section: absent, null or {} is *type NULL (an L2-only network);
 * present, it needs a string `type`, and for ADD and CHECK that plugin must
 * be on CNI_PATH (CNI_PATH unset: code 4). DEL and GC do not look, so they
 * work after the IPAM binary went away. */
int netd_conf_ipam(struct cni_ctx *ctx, const char **type);

/* The network config's `dns` (nameservers, domain, search, options): *out
 * gets a result holding only it (caller frees), NULL when absent or empty. */
int netd_conf_dns(struct cni_ctx *ctx, struct cni_result **out);

#endif
