/* dns.c — netd's endpoints into the resolver (dns/): every registered
 * endpoint's names and addresses go into the record store, and its
 * container's netns gets a listener, from registration (or netd's start, for
 * what the state holds) until its last endpoint is gone.
 *
 * The daemon calls netd_dns_start() once the state is loaded, then the hooks
 * it installs in struct netd_daemon run on every register/unregister. At
 * start every record goes in at once and the listeners wait; the loop
 * reopens them in slices (netd_dns_restore) while it serves the API.
 */
#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "daemon.h"
#include "netd/dns_server.h"
#include "netd/log.h"

#define MAX_LIST 64
/* the longest the loop spends reopening listeners before it looks at the API
 * and the queries again (a listener is ~0.2 ms of CPU) */
#define RESTORE_SLICE_MS 5

/* why a listener could not be opened (id: the endpoint's, or NULL when
 * err names the netns), kept for /v1/status and logged */
static void listen_failed(struct netd_daemon *d, int rc, const struct netd_err *err, const char *id)
{
	struct rlimit rl;

	/* out of descriptors: two per container; say which limit and what to do */
	if ((rc == -EMFILE || rc == -ENFILE) && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		snprintf(d->dns_listen_err, sizeof(d->dns_listen_err),
			 "%s (netd's open-file limit is %llu, two per container: raise LimitNOFILE, "
			 "then restart netd)", err->msg, (unsigned long long)rl.rlim_cur);
	else
		snprintf(d->dns_listen_err, sizeof(d->dns_listen_err), "%s", err->msg);
	if (id)
		log_warn("dns: endpoint %s: %s", id, d->dns_listen_err);
	else
		log_warn("%s", d->dns_listen_err);
}

static void put(struct netd_daemon *d, const struct netd_ep *ep, bool later)
{
	struct dns_server *s = d->dns;
	json_t *j = json_loads(ep->json, 0, NULL), *v;
	const char *aliases[MAX_LIST], *ups[MAX_LIST];
	struct dns_link links[MAX_LIST];
	struct netd_addr addrs[MAX_LIST];
	struct netd_err err = {0};
	size_t na = 0, nl = 0, nad = 0, nu = 0, i;
	int rc;

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
	if ((rc = dns_server_put(s, &info, ups, nu, later, &err)) < 0)
		listen_failed(d, rc, &err, ep->id);
	json_decref(j);
}

static void ep_put(struct netd_daemon *d, const struct netd_ep *ep)
{
	put(d, ep, false);
}

static size_t unserved(const struct netd_daemon *d, const char **why)
{
	size_t n = 0;

	/* a listener dropped while restoring at start set no reason here */
	*why = d->dns_listen_err[0] ? d->dns_listen_err : "netd could not open a listener there (its log says why)";
	if (!d->dns)
		return 0;
	for (const struct netd_ep *ep = d->state->first; ep; ep = ep->next)
		n += !dns_server_listening(d->dns, ep->netns);
	return n;
}

static void ep_del(struct netd_daemon *d, const char *id)
{
	dns_server_del(d->dns, id);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* GET /v1/status: containers listened in, and those whose listener a
 * restart has not reopened yet */
static void status(struct netd_daemon *d, json_t *j)
{
	const struct dns_stats *st = dns_server_stats(d->dns);

	json_object_set_new(j, "dnsListeners", json_integer((json_int_t)st->listeners));
	json_object_set_new(j, "dnsRestoring", json_integer((json_int_t)st->listeners_waiting));
}

/* RFC 6895's names; one label per rcode, or two series would share one */
static const char *const rcode_names[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
					    "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
					    "RCODE12", "RCODE13", "RCODE14", "RCODE15"};

/* one metric without labels, in the Prometheus text format */
static void metric(FILE *f, const char *name, const char *help, const char *type, unsigned long long v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

static char *metrics(struct netd_daemon *d)
{
	const struct dns_stats *st = dns_server_stats(d->dns);
	const struct dns_cache_stats *cs = dns_server_cache_stats(d->dns);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	metric(f, "netd_dns_listeners", "Containers netd's resolver listens in.", "gauge", st->listeners);
	metric(f, "netd_dns_listeners_restoring", "Containers whose listener netd's start has not reopened yet.",
	       "gauge", st->listeners_waiting);
	metric(f, "netd_dns_listeners_direct", "Of those, on 127.0.0.11:53 itself (no nftables there).", "gauge",
	       st->listeners_direct);
	metric(f, "netd_dns_endpoints_unserved", "Endpoints whose container netd could not listen in.", "gauge",
	       unserved(d, &(const char *){NULL}));
	metric(f, "netd_dns_queries_total", "Queries received.", "counter", st->queries);
	fprintf(f, "# HELP netd_dns_answers_total Answers sent, by rcode.\n# TYPE netd_dns_answers_total counter\n");
	for (int i = 0; i < 16; i++) {
		if (st->by_rcode[i] || i == 0 || i == 3)
			fprintf(f, "netd_dns_answers_total{rcode=\"%s\"} %llu\n", rcode_names[i],
				st->by_rcode[i] - (i == 0 ? st->badvers : 0));
	}
	if (st->badvers)
		fprintf(f, "netd_dns_answers_total{rcode=\"BADVERS\"} %llu\n", st->badvers);
	metric(f, "netd_dns_local_total", "Queries answered from netd's records.", "counter", st->local);
	metric(f, "netd_dns_forwarded_total", "Queries sent upstream.", "counter", st->forwarded);
	metric(f, "netd_dns_upstream_failures_total", "Forwarded queries answered SERVFAIL (no usable answer).",
	       "counter", st->upstream_failed);
	metric(f, "netd_dns_upstream_pending", "Forwarded queries waiting for their upstream now.", "gauge",
	       st->upstream_pending);
	metric(f, "netd_dns_cache_hits_total", "Forwarded names answered from the cache.", "counter", cs->hits);
	metric(f, "netd_dns_cache_misses_total", "Forwarded names not in the cache (asked upstream).", "counter",
	       cs->misses);
	metric(f, "netd_dns_cache_evictions_total", "Cached answers dropped for room before they expired.", "counter",
	       cs->evicted);
	metric(f, "netd_dns_cache_entries", "Answers in the cache.", "gauge", cs->entries);
	metric(f, "netd_dns_cache_bytes", "Memory the cached answers take.", "gauge", cs->bytes);
	metric(f, "netd_dns_dropped_total", "Packets not answered (responses, runts).", "counter", st->dropped);
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

/* ---- GET /v1/dns ----------------------------------------------------------- */

struct explain {
	json_t *answers, *empty, *hidden;
	uint32_t ttl;
};

static const char *const via_names[] = {"name", "alias", "link", "ptr", "hidden"};

static void on_why(void *arg, const struct dns_store_why *w)
{
	struct explain *x = arg;
	json_t *o = json_object();
	char a[NETD_ADDR_STRLEN];

	if (!o)
		return;
	/* someone's link alias: whose, not where */
	if (w->via == DNS_VIA_HIDDEN && w->linker) {
		json_object_set_new(o, "link_of", json_string(w->name && *w->name ? w->name : w->linker));
		json_object_set_new(o, "endpoint", json_string(w->linker));
		json_array_append_new(x->hidden, o);
		return;
	}
	if (w->network)
		json_object_set_new(o, "network", json_string(w->network));
	if (w->name && *w->name)
		json_object_set_new(o, "container", json_string(w->name));
	if (w->id)
		json_object_set_new(o, "endpoint", json_string(w->id));
	if (w->via == DNS_VIA_HIDDEN) {
		if (w->addr)
			json_object_set_new(o, "address", json_string(netd_addr_str(w->addr, a)));
		json_array_append_new(x->hidden, o);
		return;
	}
	json_object_set_new(o, "via", json_string(via_names[w->via]));
	if (w->qualified)
		json_object_set_new(o, "qualified", json_true());
	if (w->alias)
		json_object_set_new(o, "alias", json_string(w->alias));
	if (w->linker)
		json_object_set_new(o, "linker", json_string(w->linker));
	if (w->via == DNS_VIA_PTR) {
		char t[DNS_NAME_MAX + 2];

		snprintf(t, sizeof(t), "%s.", w->ptr);
		json_object_set_new(o, "type", json_string("PTR"));
		json_object_set_new(o, "data", json_string(t));
	} else if (w->addr) {
		json_object_set_new(o, "type", json_string(w->addr->family == AF_INET ? "A" : "AAAA"));
		json_object_set_new(o, "data", json_string(netd_addr_str(w->addr, a)));
	} else {
		json_array_append_new(x->empty, o);
		return;
	}
	json_object_set_new(o, "ttl", json_integer(x->ttl));
	json_array_append_new(x->answers, o);
}

/* "10.1.0.3" -> "3.0.1.10.in-addr.arpa"; "fd01::2" -> the 32 nibbles + "ip6.arpa" */
static void reverse_name(const struct netd_addr *a, char *out, size_t size)
{
	size_t len = 0;

	if (a->family == AF_INET) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a->b[3], a->b[2], a->b[1], a->b[0]);
		return;
	}
	for (int i = 15; i >= 0 && len + 4 < size; i--)
		len += (size_t)snprintf(out + len, size - len, "%x.%x.", a->b[i] & 0xf, a->b[i] >> 4);
	snprintf(out + len, size - len, "ip6.arpa");
}

static int explain(struct netd_daemon *d, const char *view, const char *name, const char *type, json_t **out,
		   struct netd_err *err)
{
	static const struct { const char *name; uint16_t type; } types[] = {
		{"A", DNS_TYPE_A}, {"AAAA", DNS_TYPE_AAAA}, {"PTR", DNS_TYPE_PTR}, {"ANY", DNS_TYPE_ANY}};
	struct dns_query q = {.qclass = DNS_CLASS_IN, .qtype = DNS_TYPE_A, .udp_size = DNS_UDP_MAX};
	struct explain x = {json_array(), json_array(), json_array(), dns_store_ttl(dns_server_store(d->dns))};
	char text[DNS_NAME_MAX + 1], servers[16 * (INET6_ADDRSTRLEN + 1)];
	struct netd_addr a;
	bool own, listening;
	size_t len = strlen(name), i;
	int wl;
	enum dns_store_result r;
	json_t *j;

	if (type) {
		for (i = 0; i < sizeof(types) / sizeof(*types) && strcasecmp(types[i].name, type); i++)
			;
		if (i == sizeof(types) / sizeof(*types))
			goto bad_type;
		q.qtype = types[i].type;
	}
	if (netd_addr_parse(name, &a) == 0) {
		if (type && q.qtype != DNS_TYPE_PTR)
			goto bad_type;
		q.qtype = DNS_TYPE_PTR;
		reverse_name(&a, text, sizeof(text));
	} else {
		if (len && name[len - 1] == '.')
			len--;
		/* one trailing dot is the root; another, or a leading one, is an empty label */
		if (!len || len >= sizeof(text) || name[0] == '.' || name[len - 1] == '.') {
			netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "name: '%.300s' is not a DNS name", name);
			goto fail;
		}
		for (i = 0; i < len; i++)
			text[i] = (char)tolower((unsigned char)name[i]);
		text[len] = 0;
	}
	wl = dns_name_to_wire(text, q.qname_wire, sizeof(q.qname_wire));
	for (i = 0; text[i]; i++)
		if ((unsigned char)text[i] <= ' ' || (unsigned char)text[i] >= 0x7f)
			wl = -1;
	if (wl < 0) {
		netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "name: '%.300s' is not a DNS name", name);
		goto fail;
	}
	q.qname_wire_len = (size_t)wl;
	strcpy(q.qname, text);
	if (!x.answers || !x.empty || !x.hidden || !(j = json_object())) {
		netd_err_set(err, -ENOMEM, 0, "out of memory");
		goto fail;
	}
	r = dns_server_explain(d->dns, view, &q, on_why, &x, servers, sizeof(servers), &own, &listening);
	json_object_set_new(j, "name", json_string(q.qname));
	for (i = 0; types[i].type != q.qtype; i++)
		;
	json_object_set_new(j, "type", json_string(types[i].name));
	json_object_set_new(j, "result", json_string(r == DNS_STORE_ANSWERED ? "answer" :
						     r == DNS_STORE_NXDOMAIN ? "nxdomain" : "forward"));
	if (r != DNS_STORE_FORWARD)
		json_object_set_new(j, "rcode", json_string(r == DNS_STORE_ANSWERED ? "NOERROR" : "NXDOMAIN"));
	json_object_set_new(j, "answers", x.answers);
	if (json_array_size(x.empty))
		json_object_set_new(j, "no_records", x.empty);
	else
		json_decref(x.empty);
	if (json_array_size(x.hidden))
		json_object_set_new(j, "elsewhere", x.hidden);
	else
		json_decref(x.hidden);
	if (r == DNS_STORE_FORWARD) {
		json_t *ups = json_array();

		for (char *p = servers, *e; p && *p; p = e ? e + 1 : NULL) {
			if ((e = strchr(p, ',')))
				*e = 0;
			json_array_append_new(ups, json_string(p));
		}
		json_object_set_new(j, "upstreams", ups);
		json_object_set_new(j, "upstreams_from", json_string(own ? "network" : "host"));
	}
	json_object_set_new(j, "listening", json_boolean(listening));
	/* a listener after netd's start, not reopened yet */
	if (!listening && dns_server_listening(d->dns, view))
		json_object_set_new(j, "restoring", json_true());
	*out = j;
	return 0;
bad_type:
	netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "type: '%.30s' is not A, AAAA, PTR or ANY%s", type,
		     netd_addr_parse(name, &a) == 0 ? " (an address is asked as PTR)" : "");
fail:
	json_decref(x.answers);
	json_decref(x.empty);
	json_decref(x.hidden);
	return -EINVAL;
}

int netd_dns_start(struct netd_daemon *d, struct netd_err *err)
{
	int rc;

	if ((rc = dns_server_new(NULL, &d->dns, err)) < 0)
		return rc;
	if (d->cfg.dns_cache != DNS_CACHE_ENTRIES_DEFAULT && netd_dns_cache_size(d, d->cfg.dns_cache) < 0) {
		dns_server_free(d->dns);
		d->dns = NULL;
		return netd_err_set(err, -ENOMEM, 0, "dns: no memory for a cache of %u answers", d->cfg.dns_cache);
	}
	netd_dns_ttl(d, d->cfg.dns_ttl);
	d->on_ep_put = ep_put;
	d->on_ep_del = ep_del;
	d->dns_metrics = metrics;
	d->dns_unserved = unserved;
	d->dns_explain = explain;
	d->dns_status = status;
	for (struct netd_ep *ep = d->state->first; ep; ep = ep->next)
		put(d, ep, true);
	if (dns_server_stats(d->dns)->listeners_waiting)
		d->dns_restore_from = now_ms() | 1;	/* never 0: 0 is "done" */
	return 0;
}

void netd_dns_restore(struct netd_daemon *d)
{
	const struct dns_stats *st = dns_server_stats(d->dns);
	uint64_t until = now_ms() + RESTORE_SLICE_MS;
	struct netd_err err = {0};
	int rc;

	if (!d->dns_restore_from)
		return;
	while (st->listeners_waiting && now_ms() < until && (rc = dns_server_restore_next(d->dns, &err)))
		if (rc < 0)
			listen_failed(d, rc, &err, NULL);
	/* the last ones may have been opened or removed by the API meanwhile */
	if (!st->listeners_waiting) {
		log_info("dns: %zu listeners back in %llu ms", st->listeners,
			 (unsigned long long)(now_ms() - d->dns_restore_from));
		d->dns_restore_from = 0;
	}
}

void netd_dns_stop(struct netd_daemon *d)
{
	d->on_ep_put = NULL;
	d->on_ep_del = NULL;
	d->dns_metrics = NULL;
	d->dns_unserved = NULL;
	d->dns_explain = NULL;
	d->dns_status = NULL;
	dns_server_free(d->dns);
	d->dns = NULL;
}

int netd_dns_nest(struct netd_daemon *d, int fd)
{
	return dns_server_nest(d->dns, fd);
}

int netd_dns_wait(struct netd_daemon *d, int timeout_ms)
{
	return dns_server_run(d->dns, timeout_ms);
}

int netd_dns_timeout_ms(struct netd_daemon *d)
{
	return dns_server_stats(d->dns)->listeners_waiting ? 0 : dns_server_timeout_ms(d->dns);
}

void netd_dns_ttl(struct netd_daemon *d, unsigned ttl)
{
	dns_store_set_ttl(dns_server_store(d->dns), ttl);
}

int netd_dns_cache_size(struct netd_daemon *d, unsigned entries)
{
	return dns_server_cache_size(d->dns, entries);
}
