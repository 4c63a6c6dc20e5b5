/* dns.c — netd's endpoints into the resolver (dns/): every registered
 * endpoint's names and addresses go into the record store, and its
 * container's netns gets a listener, from registration (or netd's start, for
 * what the state holds) until its last endpoint is gone.
 *
 * The daemon calls netd_dns_start() once the state is loaded, then the hooks
 * it installs in struct netd_daemon run on every register/unregister.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "netd/dns_server.h"
#include "netd/log.h"

#define MAX_LIST 64

static void ep_put(struct netd_daemon *d, const struct netd_ep *ep)
{
	struct dns_server *s = d->dns;
	json_t *j = json_loads(ep->json, 0, NULL), *v;
	const char *aliases[MAX_LIST], *ups[MAX_LIST];
	struct dns_link links[MAX_LIST];
	struct netd_addr addrs[MAX_LIST];
	struct netd_err err = {0};
	size_t na = 0, nl = 0, nad = 0, nu = 0, i;

	if (!j) {
		log_warn("dns: endpoint %s: unreadable record", ep->id);
		return;
	}
	json_array_foreach(json_object_get(j, "aliases"), i, v)
		if (json_is_string(v) && na < MAX_LIST)
			aliases[na++] = json_string_value(v);
	json_array_foreach(json_object_get(j, "links"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (name && nl < MAX_LIST)
			links[nl++] = (struct dns_link){name, json_string_value(json_object_get(v, "alias"))};
	}
	json_array_foreach(json_object_get(j, "ips"), i, v) {
		struct netd_prefix p;

		if (json_is_string(v) && nad < MAX_LIST && netd_prefix_parse(json_string_value(v), &p) == 0)
			addrs[nad++] = p.addr;
	}
	json_array_foreach(json_object_get(json_object_get(j, "dns"), "nameservers"), i, v)
		if (json_is_string(v) && nu < MAX_LIST)
			ups[nu++] = json_string_value(v);
	struct dns_ep_info info = {ep->id, ep->netns, ep->network, ep->name, aliases, na, links, nl, addrs, nad};
	if (dns_server_put(s, &info, ups, nu, &err) < 0)
		log_warn("dns: endpoint %s: %s", ep->id, err.msg);
	json_decref(j);
}

static void ep_del(struct netd_daemon *d, const char *id)
{
	dns_server_del(d->dns, id);
}

static const char *const rcode_names[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};

static char *metrics(struct netd_daemon *d)
{
	const struct dns_stats *st = dns_server_stats(d->dns);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	fprintf(f, "# HELP netd_dns_listeners Containers netd's resolver listens in.\n# TYPE netd_dns_listeners gauge\n"
		   "netd_dns_listeners %zu\n", st->listeners);
	fprintf(f, "# HELP netd_dns_listeners_direct Of those, on 127.0.0.11:53 itself (no nftables there).\n"
		   "# TYPE netd_dns_listeners_direct gauge\nnetd_dns_listeners_direct %zu\n", st->listeners_direct);
	fprintf(f, "# HELP netd_dns_queries_total Queries received.\n# TYPE netd_dns_queries_total counter\n"
		   "netd_dns_queries_total %llu\n", st->queries);
	fprintf(f, "# HELP netd_dns_answers_total Answers sent, by rcode.\n# TYPE netd_dns_answers_total counter\n");
	for (int i = 0; i < 16; i++) {
		if (st->by_rcode[i] || i == 0 || i == 3)
			fprintf(f, "netd_dns_answers_total{rcode=\"%s\"} %llu\n", rcode_names[i] ? rcode_names[i] : "other",
				st->by_rcode[i]);
	}
	fprintf(f, "# HELP netd_dns_local_total Queries answered from netd's records.\n"
		   "# TYPE netd_dns_local_total counter\nnetd_dns_local_total %llu\n", st->local);
	fprintf(f, "# HELP netd_dns_forwarded_total Queries sent upstream.\n"
		   "# TYPE netd_dns_forwarded_total counter\nnetd_dns_forwarded_total %llu\n", st->forwarded);
	fprintf(f, "# HELP netd_dns_upstream_failures_total Forwarded queries answered SERVFAIL (no usable answer).\n"
		   "# TYPE netd_dns_upstream_failures_total counter\nnetd_dns_upstream_failures_total %llu\n",
		st->upstream_failed);
	fprintf(f, "# HELP netd_dns_dropped_total Packets not answered (responses, runts).\n"
		   "# TYPE netd_dns_dropped_total counter\nnetd_dns_dropped_total %llu\n", st->dropped);
	fprintf(f, "# HELP netd_dns_upstream_seconds Upstream answer time.\n# TYPE netd_dns_upstream_seconds histogram\n");
	for (int i = 0; i < DNS_LATENCY_BUCKETS; i++) {
		if (i == DNS_LATENCY_BUCKETS - 1)
			fprintf(f, "netd_dns_upstream_seconds_bucket{le=\"+Inf\"} %llu\n", st->upstream_latency[i]);
		else
			fprintf(f, "netd_dns_upstream_seconds_bucket{le=\"%g\"} %llu\n", dns_latency_bounds_ms[i] / 1000,
				st->upstream_latency[i]);
	}
	fprintf(f, "netd_dns_upstream_seconds_sum %.6f\nnetd_dns_upstream_seconds_count %llu\n",
		st->upstream_latency_sum_ms / 1000, st->upstream_latency[DNS_LATENCY_BUCKETS - 1]);
	fclose(f);
	return out;
}

int netd_dns_start(struct netd_daemon *d, struct netd_err *err)
{
	int rc;

	if ((rc = dns_server_new(NULL, &d->dns, err)) < 0)
		return rc;
	d->on_ep_put = ep_put;
	d->on_ep_del = ep_del;
	d->dns_metrics = metrics;
	for (struct netd_ep *ep = d->state->first; ep; ep = ep->next)
		ep_put(d, ep);
	return 0;
}

void netd_dns_stop(struct netd_daemon *d)
{
	d->on_ep_put = NULL;
	d->on_ep_del = NULL;
	d->dns_metrics = NULL;
	dns_server_free(d->dns);
	d->dns = NULL;
}

int netd_dns_fd(const struct netd_daemon *d)
{
	return dns_server_fd(d->dns);
}

void netd_dns_run(struct netd_daemon *d)
{
	dns_server_run(d->dns);
}

int netd_dns_timeout_ms(struct netd_daemon *d)
{
	return dns_server_timeout_ms(d->dns);
}
