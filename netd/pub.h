/* pub.h — who holds which published host port, and where it leads.
 *
 * A registry, pure memory, no I/O: the firewall module (fw.c) asks it
 * whether an endpoint's port mappings may be registered, registers them, and
 * turns what changed into DNAT map elements.
 *
 * Rules (docs/netd.md, "Published ports"):
 * - An entry is one (family, protocol, host address or any, host port). It is
 *   held by one container; each of that container's endpoints that registered
 *   the identical mapping (same container port) is a holder, in registration
 *   order. The DNAT target is the first holder's address of that family; when
 *   it unregisters the next one takes over.
 * - Another container wanting an overlapping (family, protocol, port, address)
 *   is a conflict (409) naming the holder; so is the same container asking for
 *   an overlapping but different mapping, and a duplicate inside one request.
 * - A mapping without host address becomes one entry per family the endpoint
 *   has an address of; an explicit host address only its family's.
 */
#ifndef NETD_PUB_H
#define NETD_PUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netd/addr.h"
#include "netd/err.h"
#include "netd/portmap.h"

/* One element of the DNAT maps: traffic for (host_ip or any, proto, port) of
 * family af goes to to:to_port. host_ip.family 0 = any address of af. */
struct netd_pub_elem {
	int af;
	uint8_t proto;
	uint16_t host_port;
	struct netd_addr host_ip;
	struct netd_addr to;
	uint16_t to_port;
};

/* What a register/unregister changed: elements to delete, then to add (a
 * moved target is a delete and an add), all in one batch. */
struct netd_pub_delta {
	struct netd_pub_elem *del, *add;
	size_t n_del, n_add, cap_del, cap_add;
};
void netd_pub_delta_free(struct netd_pub_delta *d);

/* An endpoint as the registry sees it. Borrowed strings. */
struct netd_pub_ep {
	const char *id;			/* NETWORK:CONTAINER:IFNAME */
	const char *container_id;
	const char *name;		/* for messages; may be "" */
	struct netd_addr v4, v6;	/* its first address of each family, or family 0 */
	const struct netd_portmap *maps;
	size_t n_maps;
};

struct netd_pub;
struct netd_pub *netd_pub_new(void);
void netd_pub_free(struct netd_pub *p);

/* Would registering ep (replacing a registration of the same id) conflict?
 * 0, or -EEXIST with err (NETD_ERR_IN_USE, HTTP 409) naming the holder, or
 * -EINVAL (CNI_ERR_INVALID_CONFIG, HTTP 400) for a duplicate inside ep's own
 * list. Changes nothing. */
int netd_pub_check(const struct netd_pub *p, const struct netd_pub_ep *ep, struct netd_err *err);
/* Register (after a successful check), replacing ep->id's previous
 * registration; appends the element changes to d. -ENOMEM only. */
int netd_pub_put(struct netd_pub *p, const struct netd_pub_ep *ep, struct netd_pub_delta *d);
/* Unregister everything ep_id holds; appends the changes to d. */
int netd_pub_del(struct netd_pub *p, const char *ep_id, struct netd_pub_delta *d);

/* Every current element (for a rebuild): calls fn for each. */
void netd_pub_each(const struct netd_pub *p, void (*fn)(const struct netd_pub_elem *e, void *arg), void *arg);
size_t netd_pub_count(const struct netd_pub *p);

#endif
