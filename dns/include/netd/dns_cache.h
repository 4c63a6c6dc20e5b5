/* dns_cache.h — upstream answers kept for a while, so that a repeated
 * unknown name is answered without asking upstream again.
 *
 * An entry is keyed by the question (name lower-cased, type, class), the
 * query's DO and CD bits (they change what an upstream puts in the answer)
 * and the upstream server set the asker uses (a string, e.g. the servers
 * ","-joined; "" for the host's): containers on networks with other servers
 * never see each other's answers. It lives for the smallest TTL in the
 * answer, at most DNS_CACHE_TTL_MAX seconds; a negative answer (NXDOMAIN, or
 * NOERROR without records) for the SOA's minimum (RFC 2308), at most
 * DNS_CACHE_NEG_TTL_MAX, and not at all without an SOA. SERVFAIL and other
 * rcodes, truncated, malformed or oversized answers, and answers with a TTL
 * of 0 are never stored.
 *
 * An answer served from the cache carries the client's id and question (its
 * spelling), every TTL less the entry's age, an OPT record only if the
 * client sent one, and is cut to header + question with TC when longer than
 * the client's limit, as an uncached answer is (dns_relay).
 *
 * Bounded: at most max_entries entries and max_entries KiB of answers and
 * bookkeeping; the least recently used entry goes first. Time is the
 * caller's (milliseconds of a monotonic clock), so tests can move it.
 * The resolver asks its store first: names netd serves never reach it.
 */
#ifndef NETD_DNS_CACHE_H
#define NETD_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "netd/dns_msg.h"

#define DNS_CACHE_ENTRIES_DEFAULT 4096
#define DNS_CACHE_TTL_MAX 300		/* seconds */
#define DNS_CACHE_NEG_TTL_MAX 60	/* seconds */
#define DNS_CACHE_ANSWER_MAX DNS_UDP_MAX	/* larger answers (TCP only) are not kept */

struct dns_cache_stats {
	unsigned long long hits, misses, stored, evicted;
	size_t entries, bytes;
};

struct dns_cache;

/* max_entries 0: a cache that keeps nothing (every lookup a miss). NULL
 * without memory. */
struct dns_cache *dns_cache_new(size_t max_entries);
void dns_cache_free(struct dns_cache *c);

/* Keep ans, the upstream's answer to q through servers `upstream`, if it is
 * worth keeping (see above). 1 if stored, 0 if not. */
int dns_cache_put(struct dns_cache *c, const char *upstream, const struct dns_query *q, const uint8_t *ans,
		  size_t len, uint64_t now_ms);
/* The answer to q from the cache into out (cap bytes), at most limit bytes
 * (the client's UDP size or DNS_TCP_MAX). Its length, or 0 on a miss. */
size_t dns_cache_get(struct dns_cache *c, const char *upstream, const struct dns_query *q, uint64_t now_ms,
		     uint8_t *out, size_t cap, size_t limit);
const struct dns_cache_stats *dns_cache_stats(const struct dns_cache *c);

#endif
