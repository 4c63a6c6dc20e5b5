/* ipam_conf.c — netd-ipam's config: host-local's format parsed and
 * validated into struct netd_ipam_conf, and the requested IPs from the
 * three places a runtime puts them. Touches no file. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netd/ipam.h"
#include "netd/util.h"
#include "ipam_internal.h"

void netd_ipam_conf_free(struct netd_ipam_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sets; i++)
		free(c->sets[i].ranges);
	free(c->sets);
	free(c->exclude);
	free(c->routes);
	free(c->requested);
	free(c->network);
	free(c->data_dir);
	free(c->resolv_conf);
	free(c);
}

/* Optional string field; wrong type is an error naming it. */
static int opt_str(const json_t *o, const char *key, const char *where, const char **out,
		   struct netd_err *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return netd_err_invalid(err, "%s%s: must be a string", where, key);
	*out = json_string_value(v);
	return 0;
}

static int opt_addr(const json_t *o, const char *key, const char *where, int family,
		    struct netd_addr *out, struct netd_err *err)
{
	const char *s;
	int rc;

	out->family = 0;
	if ((rc = opt_str(o, key, where, &s, err)) < 0 || !s)
		return rc;
	if (netd_addr_parse(s, out) < 0)
		return netd_err_invalid(err, "%s%s: '%s' is not an IP address", where, key, s);
	if (out->family != family)
		return netd_err_invalid(err, "%s%s: %s is not in the subnet's address family", where, key, s);
	return 0;
}

/* One {subnet, rangeStart, rangeEnd, gateway}; `where` is "ipam.ranges[0][1]."
 * or "ipam." for the legacy form. Defaults as host-local: gateway and
 * rangeStart the subnet's first address + 1, rangeEnd the last address (the
 * one before broadcast for IPv4). */
static int parse_range(const json_t *o, const char *where, struct netd_ipam_range *r, struct netd_err *err)
{
	char sbuf[NETD_PREFIX_STRLEN], nbuf[NETD_PREFIX_STRLEN], abuf[NETD_ADDR_STRLEN];
	struct netd_prefix p, net;
	const char *s;
	int rc, family;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return netd_err_invalid(err, "%s: must be an object", where);
	if ((rc = opt_str(o, "subnet", where, &s, err)) < 0)
		return rc;
	if (!s)
		return netd_err_invalid(err, "%ssubnet: missing", where);
	if (netd_prefix_parse(s, &p) < 0)
		return netd_err_invalid(err, "%ssubnet: '%s' is not a CIDR subnet", where, s);
	net = netd_prefix_network(&p);
	if (!netd_addr_eq(&net.addr, &p.addr))
		return netd_err_invalid(err, "%ssubnet: %s has host bits set (the network is %s)", where, s,
				netd_prefix_str(&net, nbuf));
	if (p.len + 2 > (int)netd_addr_bits(&p.addr))
		return netd_err_invalid(err, "%ssubnet: %s is too small to allocate from", where, s);
	r->subnet = net;
	family = net.addr.family;
	netd_prefix_str(&net, sbuf);

	if ((rc = opt_addr(o, "gateway", where, family, &r->gateway, err)) < 0)
		return rc;
	if (!r->gateway.family)
		netd_addr_add(&net.addr, 1, &r->gateway);

	if ((rc = opt_addr(o, "rangeStart", where, family, &r->start, err)) < 0)
		return rc;
	if (!r->start.family)
		netd_addr_add(&net.addr, 1, &r->start);
	else if (!netd_prefix_contains(&net, &r->start))
		return netd_err_invalid(err, "%srangeStart: %s is outside subnet %s", where,
				netd_addr_str(&r->start, abuf), sbuf);

	if ((rc = opt_addr(o, "rangeEnd", where, family, &r->end, err)) < 0)
		return rc;
	if (!r->end.family) {
		r->end = netd_prefix_last(&net);
		if (family == AF_INET)
			netd_addr_add(&r->end, -1, &r->end);
	} else if (!netd_prefix_contains(&net, &r->end)) {
		return netd_err_invalid(err, "%srangeEnd: %s is outside subnet %s", where,
				netd_addr_str(&r->end, abuf), sbuf);
	}
	if (netd_addr_cmp(&r->start, &r->end) > 0)
		return netd_err_invalid(err, "%srangeStart: %s is after rangeEnd", where,
				netd_addr_str(&r->start, abuf));
	return 0;
}

static bool ranges_overlap(const struct netd_ipam_range *a, const struct netd_ipam_range *b)
{
	return a->subnet.addr.family == b->subnet.addr.family &&
	       netd_addr_cmp(&a->start, &b->end) <= 0 && netd_addr_cmp(&b->start, &a->end) <= 0;
}

static int add_set(struct netd_ipam_conf *c, struct netd_ipam_rangeset *set)
{
	return ipam_push((void **)&c->sets, &c->n_sets, sizeof(*set), set);
}

static int parse_set(const json_t *arr, size_t idx, struct netd_ipam_rangeset *set, struct netd_err *err)
{
	char where[64], a[NETD_PREFIX_STRLEN], b[NETD_PREFIX_STRLEN];
	const json_t *o;
	size_t i;
	int rc;

	memset(set, 0, sizeof(*set));
	if (!json_is_array(arr))
		return netd_err_invalid(err, "ipam.ranges[%zu]: must be a list of ranges", idx);
	if (!json_array_size(arr))
		return netd_err_invalid(err, "ipam.ranges[%zu]: empty range set", idx);
	json_array_foreach(arr, i, o) {
		struct netd_ipam_range r;

		snprintf(where, sizeof(where), "ipam.ranges[%zu][%zu].", idx, i);
		if ((rc = parse_range(o, where, &r, err)) < 0)
			return rc;
		if (set->n_ranges && r.subnet.addr.family != set->ranges[0].subnet.addr.family)
			return netd_err_invalid(err, "ipam.ranges[%zu]: mixed address families in one range set", idx);
		for (size_t j = 0; j < set->n_ranges; j++)
			if (ranges_overlap(&set->ranges[j], &r))
				return netd_err_invalid(err, "ipam.ranges[%zu]: ranges %s and %s overlap", idx,
						netd_prefix_str(&set->ranges[j].subnet, a),
						netd_prefix_str(&r.subnet, b));
		if (ipam_push((void **)&set->ranges, &set->n_ranges, sizeof(r), &r) < 0)
			return ipam_oom(err);
	}
	return 0;
}

static int parse_routes(const json_t *ipam, struct netd_ipam_conf *c, struct netd_err *err)
{
	json_t *arr = json_object_get(ipam, "routes"), *o;
	char where[64];
	size_t i;
	int rc;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return netd_err_invalid(err, "ipam.routes: must be a list");
	json_array_foreach(arr, i, o) {
		struct cni_route rt = {.scope = -1};
		const char *s;

		snprintf(where, sizeof(where), "ipam.routes[%zu].", i);
		if (!json_is_object(o))
			return netd_err_invalid(err, "ipam.routes[%zu]: must be an object", i);
		if ((rc = opt_str(o, "dst", where, &s, err)) < 0)
			return rc;
		if (!s)
			return netd_err_invalid(err, "%sdst: missing", where);
		if (netd_prefix_parse(s, &rt.dst) < 0)
			return netd_err_invalid(err, "%sdst: '%s' is not a CIDR prefix", where, s);
		if ((rc = opt_str(o, "gw", where, &s, err)) < 0)
			return rc;
		if (s && netd_addr_parse(s, &rt.gw) < 0)
			return netd_err_invalid(err, "%sgw: '%s' is not an IP address", where, s);
		if (s && rt.gw.family != rt.dst.addr.family)
			return netd_err_invalid(err, "%sgw: %s is not in the family of dst", where, s);
		if (ipam_push((void **)&c->routes, &c->n_routes, sizeof(rt), &rt) < 0)
			return ipam_oom(err);
	}
	return 0;
}

static int parse_exclude(const json_t *ipam, struct netd_ipam_conf *c, struct netd_err *err)
{
	json_t *arr = json_object_get(ipam, "exclude"), *v;
	size_t i;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return netd_err_invalid(err, "ipam.exclude: must be a list of IPs or CIDRs");
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		struct netd_prefix p;

		if (!s)
			return netd_err_invalid(err, "ipam.exclude[%zu]: must be a string", i);
		if (strchr(s, '/')) {
			if (netd_prefix_parse(s, &p) < 0)
				return netd_err_invalid(err, "ipam.exclude[%zu]: '%s' is not an IP or CIDR", i, s);
			p = netd_prefix_network(&p);
		} else {
			if (netd_addr_parse(s, &p.addr) < 0)
				return netd_err_invalid(err, "ipam.exclude[%zu]: '%s' is not an IP or CIDR", i, s);
			p.len = (uint8_t)netd_addr_bits(&p.addr);
		}
		if (ipam_push((void **)&c->exclude, &c->n_exclude, sizeof(p), &p) < 0)
			return ipam_oom(err);
	}
	return 0;
}

static int dup_str(char **dst, const char *s, struct netd_err *err)
{
	if (!(*dst = strdup(s)))
		return ipam_oom(err);
	return 0;
}

int netd_ipam_conf_parse(const json_t *netconf, struct netd_ipam_conf **out, struct netd_err *err)
{
	char a[NETD_PREFIX_STRLEN], b[NETD_PREFIX_STRLEN];
	struct netd_ipam_conf *c;
	const char *s;
	json_t *ipam, *ranges, *v;
	size_t i;
	int rc;

	*out = NULL;
	if (!json_is_object(netconf))
		return netd_err_invalid(err, "network config must be a JSON object");
	s = json_string_value(json_object_get(netconf, "name"));
	if (!s)
		return netd_err_invalid(err, "name: missing or not a string");
	if (!netd_name_valid(s))
		return netd_err_invalid(err, "name: '%s' is not a valid network name (" NETD_NAME_RULE ")", s);
	ipam = json_object_get(netconf, "ipam");
	if (!ipam)
		return netd_err_invalid(err, "ipam: missing");
	if (!json_is_object(ipam))
		return netd_err_invalid(err, "ipam: must be an object");
	if (!(c = calloc(1, sizeof(*c))))
		return ipam_oom(err);
	if ((rc = dup_str(&c->network, s, err)) < 0)
		goto fail;

	if ((rc = opt_str(ipam, "dataDir", "ipam.", &s, err)) < 0)
		goto fail;
	if (s && !*s) {
		rc = netd_err_invalid(err, "ipam.dataDir: must not be empty");
		goto fail;
	}
	if ((rc = dup_str(&c->data_dir, s ? s : NETD_IPAM_DEFAULT_DATA_DIR, err)) < 0)
		goto fail;
	if ((rc = opt_str(ipam, "resolvConf", "ipam.", &s, err)) < 0)
		goto fail;
	if (s && *s && (rc = dup_str(&c->resolv_conf, s, err)) < 0)
		goto fail;

	/* Legacy flat form first: host-local prepends it to `ranges`. */
	v = json_object_get(ipam, "subnet");
	if (v && !json_is_null(v)) {
		struct netd_ipam_rangeset set = {0};
		struct netd_ipam_range r;

		if ((rc = parse_range(ipam, "ipam.", &r, err)) < 0)
			goto fail;
		if (ipam_push((void **)&set.ranges, &set.n_ranges, sizeof(r), &r) < 0 || add_set(c, &set) < 0) {
			free(set.ranges);
			rc = ipam_oom(err);
			goto fail;
		}
	} else if (json_object_get(ipam, "rangeStart") || json_object_get(ipam, "rangeEnd")) {
		rc = netd_err_invalid(err, "ipam.subnet: missing (rangeStart/rangeEnd need a subnet)");
		goto fail;
	}
	ranges = json_object_get(ipam, "ranges");
	if (ranges && !json_is_null(ranges)) {
		if (!json_is_array(ranges)) {
			rc = netd_err_invalid(err, "ipam.ranges: must be a list of range sets");
			goto fail;
		}
		json_array_foreach(ranges, i, v) {
			struct netd_ipam_rangeset set;

			if ((rc = parse_set(v, i, &set, err)) < 0 || (rc = add_set(c, &set)) < 0) {
				if (rc == -ENOMEM)
					ipam_oom(err);
				free(set.ranges);
				goto fail;
			}
		}
	}
	if (!c->n_sets) {
		rc = netd_err_invalid(err, "ipam.ranges: missing: no address ranges (set 'ranges' or 'subnet')");
		goto fail;
	}
	/* An address may belong to one range set only. */
	for (size_t x = 0; x < c->n_sets; x++)
		for (size_t y = x + 1; y < c->n_sets; y++)
			for (size_t p = 0; p < c->sets[x].n_ranges; p++)
				for (size_t q = 0; q < c->sets[y].n_ranges; q++) {
					const struct netd_ipam_range *r1 = &c->sets[x].ranges[p];
					const struct netd_ipam_range *r2 = &c->sets[y].ranges[q];

					if (!ranges_overlap(r1, r2))
						continue;
					rc = netd_err_invalid(err, "ipam.ranges: range set %zu (%s) overlaps range set %zu (%s)",
						      x, netd_prefix_str(&r1->subnet, a), y,
						      netd_prefix_str(&r2->subnet, b));
					goto fail;
				}
	if ((rc = parse_routes(ipam, c, err)) < 0 || (rc = parse_exclude(ipam, c, err)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	netd_ipam_conf_free(c);
	return rc;
}

int netd_ipam_conf_request(struct netd_ipam_conf *c, const char *ip, const char *source,
			   struct netd_err *err)
{
	char buf[NETD_PREFIX_STRLEN + 1];
	struct netd_prefix p;
	struct netd_addr a;
	size_t len;

	while (ip && isspace((unsigned char)*ip))
		ip++;
	len = ip ? strlen(ip) : 0;
	while (len && isspace((unsigned char)ip[len - 1]))
		len--;
	if (!len || len >= sizeof(buf))
		return netd_err_invalid(err, "%s: '%s' is not an IP address", source, ip ? ip : "");
	memcpy(buf, ip, len);
	buf[len] = '\0';
	if (strchr(buf, '/')) {
		if (netd_prefix_parse(buf, &p) < 0)
			return netd_err_invalid(err, "%s: '%s' is not an IP address", source, buf);
		a = p.addr;
	} else if (netd_addr_parse(buf, &a) < 0) {
		return netd_err_invalid(err, "%s: '%s' is not an IP address", source, buf);
	}
	for (size_t i = 0; i < c->n_requested; i++)
		if (netd_addr_eq(&c->requested[i], &a))
			return 0;
	if (ipam_push((void **)&c->requested, &c->n_requested, sizeof(a), &a) < 0)
		return ipam_oom(err);
	return 0;
}

static int request_list(struct netd_ipam_conf *c, const json_t *arr, const char *source, struct netd_err *err)
{
	char where[64];
	json_t *v;
	size_t i;
	int rc;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return netd_err_invalid(err, "%s: must be a list of IP addresses", source);
	json_array_foreach(arr, i, v) {
		snprintf(where, sizeof(where), "%s[%zu]", source, i);
		if (!json_is_string(v))
			return netd_err_invalid(err, "%s: must be a string", where);
		if ((rc = netd_ipam_conf_request(c, json_string_value(v), where, err)) < 0)
			return rc;
	}
	return 0;
}

int netd_ipam_conf_requests(struct netd_ipam_conf *c, const json_t *runtime_config,
			    const json_t *conf_args, const char *env_ip, struct netd_err *err)
{
	int rc;

	if (env_ip) {
		char *copy = strdup(env_ip), *save = NULL, *tok;

		if (!copy)
			return ipam_oom(err);
		rc = 0;
		for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save))
			rc = netd_ipam_conf_request(c, tok, "CNI_ARGS IP", err);
		free(copy);
		if (rc < 0)
			return rc;
	}
	if (conf_args && (rc = request_list(c, json_object_get(json_object_get(conf_args, "cni"), "ips"),
					    "args.cni.ips", err)) < 0)
		return rc;
	if (runtime_config &&
	    (rc = request_list(c, json_object_get(runtime_config, "ips"), "runtimeConfig.ips", err)) < 0)
		return rc;
	return 0;
}
