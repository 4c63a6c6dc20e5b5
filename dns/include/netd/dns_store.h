/* dns_store.h — the names netd answers for, and who may see which.
 *
 * Records are endpoints (one interface of one container on one network),
 * put and removed by id as netd registers and unregisters them. Each
 * endpoint has a view: the key of the place queries come from (netd uses
 * the container's netns path), shared by all endpoints of one container.
 * A query is answered from the asker's view only:
 *
 *   NAME               container name or network alias, on any network the
 *                      asker is on (every holder answers, rotated per query)
 *   NAME.NETWORK       the same, on that network only (if the asker is on it)
 *   link alias         only for the container that holds the link: the
 *                      alias answers the linked container's addresses on
 *                      the asker's networks (for any other asker it is a
 *                      name of ours it cannot see: NXDOMAIN)
 *   reverse names      PTR (in-addr.arpa, ip6.arpa) for endpoint addresses
 *                      on the asker's networks: NAME.NETWORK
 *
 * Case-insensitive. Every lookup is a few hash probes (one per network the
 * asker is on), whatever the number of endpoints.
 */
#ifndef NETD_DNS_STORE_H
#define NETD_DNS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "netd/addr.h"
#include "netd/dns_msg.h"

/* What answers carry unless told otherwise; Docker's embedded resolver
 * uses the same. */
#define DNS_STORE_TTL 600

struct dns_link {
	const char *name;	/* the linked container's name */
	const char *alias;	/* what the linking container calls it ("" or NULL: name only) */
};

struct dns_ep_info {
	const char *id, *view, *network, *name;
	const char *const *aliases;
	size_t n_aliases;
	const struct dns_link *links;
	size_t n_links;
	const struct netd_addr *addrs;
	size_t n_addrs;
};

struct dns_store;

struct dns_store *dns_store_new(void);
void dns_store_free(struct dns_store *s);
/* Add or replace (same id). 0 or -ENOMEM (the old record, if any, is gone
 * then). Strings are copied. */
int dns_store_put(struct dns_store *s, const struct dns_ep_info *ep);
/* Remove; -ENOENT if absent. */
int dns_store_del(struct dns_store *s, const char *id);
size_t dns_store_count(const struct dns_store *s);
/* The TTL answers carry (DNS_STORE_TTL until set). */
void dns_store_set_ttl(struct dns_store *s, uint32_t ttl);
uint32_t dns_store_ttl(const struct dns_store *s);
/* The view of endpoint id (NULL if absent; valid until it is removed), and
 * how many endpoints a view has (its container's attachments). */
const char *dns_store_view_of(const struct dns_store *s, const char *id);
size_t dns_store_view_size(const struct dns_store *s, const char *view);

enum dns_store_result {
	DNS_STORE_FORWARD,	/* not a name of ours: ask upstream */
	DNS_STORE_ANSWERED,	/* b holds the answer (maybe NOERROR with no records) */
	DNS_STORE_NXDOMAIN,	/* ours, but not in this asker's view */
};
/* Answer q as seen from `view` into b (started by the caller with NOERROR;
 * on NXDOMAIN the caller builds that answer instead). */
enum dns_store_result dns_store_answer(struct dns_store *s, const char *view, const struct dns_query *q,
				       struct dns_builder *b);

/* Why: the same lookup as dns_store_answer, telling fn about every step
 * that decided the answer (for `netdctl dns`; the rotation is left where it
 * was). Strings are valid during the call only. */
enum dns_store_via {
	DNS_VIA_NAME,		/* the holder's container name */
	DNS_VIA_ALIAS,		/* one of the holder's network aliases (`alias`) */
	DNS_VIA_LINK,		/* a link alias (`alias`) of the asker's endpoint `linker` */
	DNS_VIA_PTR,		/* the holder's address; `ptr` is the answer */
	DNS_VIA_HIDDEN,		/* the name or address lives on `network`, which the asker is
				 * not on (id/name NULL: the network itself, NAME.NETWORK);
				 * or, with `linker`, it is a link alias of that endpoint's */
};
struct dns_store_why {
	enum dns_store_via via;
	bool qualified;		/* asked as NAME.NETWORK */
	const char *network, *id, *name;	/* the holder: its network, endpoint id, container name */
	const char *alias, *linker;
	/* the record (A/AAAA); NULL: the holder has no address of the asked type */
	const struct netd_addr *addr;
	const char *ptr;
};
typedef void dns_store_why_fn(void *arg, const struct dns_store_why *w);
enum dns_store_result dns_store_explain(struct dns_store *s, const char *view, const struct dns_query *q,
					struct dns_builder *b, dns_store_why_fn *fn, void *arg);

#endif
