/* ipam.c — see netd/ipam.h. Config parsing first, then the allocation order,
 * then the store (host-local's layout), then the operations on top. */
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

#define LAST_PREFIX "last_reserved_ip."
#define LOCK_NAME "lock"
/* Reservation files are tiny; anything bigger is not ours. */
#define LEASE_MAX 4096

static int conf_err(struct netd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int conf_err(struct netd_err *err, const char *fmt, ...)
{
	char msg[NETD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s", msg);
}

static int push(void **arr, size_t *n, size_t size, const void *elem)
{
	void *p = realloc(*arr, (*n + 1) * size);

	if (!p)
		return -ENOMEM;
	memcpy((char *)p + *n * size, elem, size);
	*arr = p;
	(*n)++;
	return 0;
}

static int oom(struct netd_err *err)
{
	return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
}

/* ---- config ---------------------------------------------------------------- */

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
		return conf_err(err, "%s%s: must be a string", where, key);
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
		return conf_err(err, "%s%s: '%s' is not an IP address", where, key, s);
	if (out->family != family)
		return conf_err(err, "%s%s: %s is not in the subnet's address family", where, key, s);
	return 0;
}

static bool in_bounds(const struct netd_ipam_range *r, const struct netd_addr *a)
{
	return a->family == r->subnet.addr.family && netd_addr_cmp(a, &r->start) >= 0 &&
	       netd_addr_cmp(a, &r->end) <= 0;
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
		return conf_err(err, "%s: must be an object", where);
	if ((rc = opt_str(o, "subnet", where, &s, err)) < 0)
		return rc;
	if (!s)
		return conf_err(err, "%ssubnet: missing", where);
	if (netd_prefix_parse(s, &p) < 0)
		return conf_err(err, "%ssubnet: '%s' is not a CIDR subnet", where, s);
	net = netd_prefix_network(&p);
	if (!netd_addr_eq(&net.addr, &p.addr))
		return conf_err(err, "%ssubnet: %s has host bits set (the network is %s)", where, s,
				netd_prefix_str(&net, nbuf));
	if (p.len + 2 > (int)netd_addr_bits(&p.addr))
		return conf_err(err, "%ssubnet: %s is too small to allocate from", where, s);
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
		return conf_err(err, "%srangeStart: %s is outside subnet %s", where,
				netd_addr_str(&r->start, abuf), sbuf);

	if ((rc = opt_addr(o, "rangeEnd", where, family, &r->end, err)) < 0)
		return rc;
	if (!r->end.family) {
		r->end = netd_prefix_last(&net);
		if (family == AF_INET)
			netd_addr_add(&r->end, -1, &r->end);
	} else if (!netd_prefix_contains(&net, &r->end)) {
		return conf_err(err, "%srangeEnd: %s is outside subnet %s", where,
				netd_addr_str(&r->end, abuf), sbuf);
	}
	if (netd_addr_cmp(&r->start, &r->end) > 0)
		return conf_err(err, "%srangeStart: %s is after rangeEnd", where,
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
	return push((void **)&c->sets, &c->n_sets, sizeof(*set), set);
}

static int parse_set(const json_t *arr, size_t idx, struct netd_ipam_rangeset *set, struct netd_err *err)
{
	char where[64], a[NETD_PREFIX_STRLEN], b[NETD_PREFIX_STRLEN];
	const json_t *o;
	size_t i;
	int rc;

	memset(set, 0, sizeof(*set));
	if (!json_is_array(arr))
		return conf_err(err, "ipam.ranges[%zu]: must be a list of ranges", idx);
	if (!json_array_size(arr))
		return conf_err(err, "ipam.ranges[%zu]: empty range set", idx);
	json_array_foreach(arr, i, o) {
		struct netd_ipam_range r;

		snprintf(where, sizeof(where), "ipam.ranges[%zu][%zu].", idx, i);
		if ((rc = parse_range(o, where, &r, err)) < 0)
			return rc;
		if (set->n_ranges && r.subnet.addr.family != set->ranges[0].subnet.addr.family)
			return conf_err(err, "ipam.ranges[%zu]: mixed address families in one range set", idx);
		for (size_t j = 0; j < set->n_ranges; j++)
			if (ranges_overlap(&set->ranges[j], &r))
				return conf_err(err, "ipam.ranges[%zu]: ranges %s and %s overlap", idx,
						netd_prefix_str(&set->ranges[j].subnet, a),
						netd_prefix_str(&r.subnet, b));
		if (push((void **)&set->ranges, &set->n_ranges, sizeof(r), &r) < 0)
			return oom(err);
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
		return conf_err(err, "ipam.routes: must be a list");
	json_array_foreach(arr, i, o) {
		struct cni_route rt = {.scope = -1};
		const char *s;

		snprintf(where, sizeof(where), "ipam.routes[%zu].", i);
		if (!json_is_object(o))
			return conf_err(err, "ipam.routes[%zu]: must be an object", i);
		if ((rc = opt_str(o, "dst", where, &s, err)) < 0)
			return rc;
		if (!s)
			return conf_err(err, "%sdst: missing", where);
		if (netd_prefix_parse(s, &rt.dst) < 0)
			return conf_err(err, "%sdst: '%s' is not a CIDR prefix", where, s);
		if ((rc = opt_str(o, "gw", where, &s, err)) < 0)
			return rc;
		if (s && netd_addr_parse(s, &rt.gw) < 0)
			return conf_err(err, "%sgw: '%s' is not an IP address", where, s);
		if (s && rt.gw.family != rt.dst.addr.family)
			return conf_err(err, "%sgw: %s is not in the family of dst", where, s);
		if (push((void **)&c->routes, &c->n_routes, sizeof(rt), &rt) < 0)
			return oom(err);
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
		return conf_err(err, "ipam.exclude: must be a list of IPs or CIDRs");
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		struct netd_prefix p;

		if (!s)
			return conf_err(err, "ipam.exclude[%zu]: must be a string", i);
		if (strchr(s, '/')) {
			if (netd_prefix_parse(s, &p) < 0)
				return conf_err(err, "ipam.exclude[%zu]: '%s' is not an IP or CIDR", i, s);
			p = netd_prefix_network(&p);
		} else {
			if (netd_addr_parse(s, &p.addr) < 0)
				return conf_err(err, "ipam.exclude[%zu]: '%s' is not an IP or CIDR", i, s);
			p.len = (uint8_t)netd_addr_bits(&p.addr);
		}
		if (push((void **)&c->exclude, &c->n_exclude, sizeof(p), &p) < 0)
			return oom(err);
	}
	return 0;
}

static int dup_str(char **dst, const char *s, struct netd_err *err)
{
	if (!(*dst = strdup(s)))
		return oom(err);
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
		return conf_err(err, "network config must be a JSON object");
	s = json_string_value(json_object_get(netconf, "name"));
	if (!s)
		return conf_err(err, "name: missing or not a string");
	if (!netd_name_valid(s))
		return conf_err(err, "name: '%s' is not a valid network name (" NETD_NAME_RULE ")", s);
	ipam = json_object_get(netconf, "ipam");
	if (!ipam)
		return conf_err(err, "ipam: missing");
	if (!json_is_object(ipam))
		return conf_err(err, "ipam: must be an object");
	if (!(c = calloc(1, sizeof(*c))))
		return oom(err);
	if ((rc = dup_str(&c->network, s, err)) < 0)
		goto fail;

	if ((rc = opt_str(ipam, "dataDir", "ipam.", &s, err)) < 0)
		goto fail;
	if (s && !*s) {
		rc = conf_err(err, "ipam.dataDir: must not be empty");
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
		if (push((void **)&set.ranges, &set.n_ranges, sizeof(r), &r) < 0 || add_set(c, &set) < 0) {
			free(set.ranges);
			rc = oom(err);
			goto fail;
		}
	} else if (json_object_get(ipam, "rangeStart") || json_object_get(ipam, "rangeEnd")) {
		rc = conf_err(err, "ipam.subnet: missing (rangeStart/rangeEnd need a subnet)");
		goto fail;
	}
	ranges = json_object_get(ipam, "ranges");
	if (ranges && !json_is_null(ranges)) {
		if (!json_is_array(ranges)) {
			rc = conf_err(err, "ipam.ranges: must be a list of range sets");
			goto fail;
		}
		json_array_foreach(ranges, i, v) {
			struct netd_ipam_rangeset set;

			if ((rc = parse_set(v, i, &set, err)) < 0 || (rc = add_set(c, &set)) < 0) {
				if (rc == -ENOMEM)
					oom(err);
				free(set.ranges);
				goto fail;
			}
		}
	}
	if (!c->n_sets) {
		rc = conf_err(err, "ipam.ranges: missing: no address ranges (set 'ranges' or 'subnet')");
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
					rc = conf_err(err, "ipam.ranges: range set %zu (%s) overlaps range set %zu (%s)",
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
		return conf_err(err, "%s: '%s' is not an IP address", source, ip ? ip : "");
	memcpy(buf, ip, len);
	buf[len] = '\0';
	if (strchr(buf, '/')) {
		if (netd_prefix_parse(buf, &p) < 0)
			return conf_err(err, "%s: '%s' is not an IP address", source, buf);
		a = p.addr;
	} else if (netd_addr_parse(buf, &a) < 0) {
		return conf_err(err, "%s: '%s' is not an IP address", source, buf);
	}
	for (size_t i = 0; i < c->n_requested; i++)
		if (netd_addr_eq(&c->requested[i], &a))
			return 0;
	if (push((void **)&c->requested, &c->n_requested, sizeof(a), &a) < 0)
		return oom(err);
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
		return conf_err(err, "%s: must be a list of IP addresses", source);
	json_array_foreach(arr, i, v) {
		snprintf(where, sizeof(where), "%s[%zu]", source, i);
		if (!json_is_string(v))
			return conf_err(err, "%s: must be a string", where);
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
			return oom(err);
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

/* ---- allocation order ---------------------------------------------------- */

int netd_ipam_find_range(const struct netd_ipam_rangeset *s, const struct netd_addr *a)
{
	for (size_t i = 0; i < s->n_ranges; i++)
		if (in_bounds(&s->ranges[i], a))
			return (int)i;
	return -1;
}

int netd_ipam_find_set(const struct netd_ipam_conf *c, const struct netd_addr *a)
{
	for (size_t i = 0; i < c->n_sets; i++)
		if (netd_ipam_find_range(&c->sets[i], a) >= 0)
			return (int)i;
	return -1;
}

static const struct netd_prefix *excluded(const struct netd_ipam_conf *c, const struct netd_addr *a)
{
	for (size_t i = 0; i < c->n_exclude; i++)
		if (netd_prefix_contains(&c->exclude[i], a))
			return &c->exclude[i];
	return NULL;
}

static bool special(const struct netd_ipam_range *r, const struct netd_addr *a)
{
	struct netd_addr net = netd_prefix_first(&r->subnet);

	if (netd_addr_eq(a, &r->gateway) || netd_addr_eq(a, &net))
		return true;
	if (a->family == AF_INET) {
		struct netd_addr bcast = netd_prefix_last(&r->subnet);

		return netd_addr_eq(a, &bcast);
	}
	return false;
}

bool netd_ipam_usable(const struct netd_ipam_conf *c, const struct netd_ipam_range *r,
		      const struct netd_addr *a)
{
	return in_bounds(r, a) && !special(r, a) && !excluded(c, a);
}

int netd_ipam_next(const struct netd_ipam_conf *c, size_t set, const struct netd_addr *cursor,
		   struct netd_addr *out)
{
	const struct netd_ipam_rangeset *s;
	struct netd_addr cur;
	size_t ri, moves = 0;
	int r;

	if (set >= c->n_sets)
		return -EINVAL;
	s = &c->sets[set];
	r = cursor ? netd_ipam_find_range(s, cursor) : -1;
	if (r < 0) {
		ri = 0;
		cur = s->ranges[0].start;
	} else {
		ri = (size_t)r;
		cur = *cursor;
		goto step;
	}
	/* Each pass either returns, or moves forward within a range (by one over
	 * a special address, or over a whole excluded prefix), or moves to the
	 * next range; two full turns without a usable address means none. */
	for (;;) {
		const struct netd_ipam_range *rg = &s->ranges[ri];
		const struct netd_prefix *ex;

		if (special(rg, &cur))
			goto step;
		if ((ex = excluded(c, &cur))) {
			struct netd_addr last = netd_prefix_last(ex);

			if (netd_addr_cmp(&last, &rg->end) >= 0)
				goto next_range;
			netd_addr_add(&last, 1, &cur);
			continue;
		}
		*out = cur;
		return 0;
step:
		if (!netd_addr_eq(&cur, &s->ranges[ri].end) && netd_addr_add(&cur, 1, &cur) == 0)
			continue;
next_range:
		if (++moves > 2 * s->n_ranges)
			return -ENOSPC;
		ri = (ri + 1) % s->n_ranges;
		cur = s->ranges[ri].start;
	}
}

const char *netd_ipam_set_str(const struct netd_ipam_rangeset *s, char *buf, size_t len)
{
	char p[NETD_PREFIX_STRLEN];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_ranges && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? "," : "",
				 netd_prefix_str(&s->ranges[i].subnet, p));

		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

/* ---- store --------------------------------------------------------------- */

/* The index: <net>/INDEX_DIR/<attachment> lists the addresses an attachment
 * (container id, ifname) holds, so ADD, DEL and CHECK read one small file
 * instead of every reservation. It is only a cache of the reservation files,
 * which stay the truth: every address read from it is checked against its
 * reservation file before use.
 *
 * host-local (and anything else that knows nothing of the index) changes
 * the network directory without updating it. So after each run that changed
 * the directory we record the directory's stat (mtime, ctime, size, inode)
 * in the lock file, which nobody else writes; a run whose stat differs
 * rebuilds the index from a scan, once. The stamp is invalidated before our
 * own first change, so a run killed halfway leaves a rebuild behind, never a
 * wrong index. Entry contents never equal a reservation's ("<id>\r\n<ifname>"
 * or "<id>"), so host-local, which walks subdirectories, ignores them. */
#define INDEX_DIR ".netd-index"
#define INDEX_MAGIC "netd-ipam index v1\n"
#define STAMP_LEN 96

struct netd_ipam_store {
	int dirfd;
	int lockfd;
	int idxfd;		/* INDEX_DIR, or -1: no index, scan instead */
	bool lock_rw;		/* lock file writable: can hold the stamp */
	bool changed;		/* we changed the directory: stamp invalid until close */
	char *path;
};

static int read_small(int dirfd, const char *name, char *buf, size_t size);
static int parse_lease(char *body, struct netd_ipam_lease *l);

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void stamp_format(const struct stat *st, char out[STAMP_LEN])
{
	int n = snprintf(out, STAMP_LEN, "netd-index %lld.%09ld %lld.%09ld %lld %llu",
			 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
			 st->st_ctim.tv_nsec, (long long)st->st_size, (unsigned long long)st->st_ino);

	/* Fixed length, so a rewrite in place never leaves a tail behind. */
	memset(out + n, ' ', STAMP_LEN - 1 - (size_t)n);
	out[STAMP_LEN - 1] = '\n';
}

static void stamp_write(struct netd_ipam_store *s, bool valid)
{
	char buf[STAMP_LEN];
	struct stat st;

	if (!s->lock_rw)
		return;
	if (valid && fstat(s->dirfd, &st) == 0)
		stamp_format(&st, buf);
	else
		memset(buf, '-', sizeof(buf));
	if (pwrite(s->lockfd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) && valid)
		pwrite(s->lockfd, "-", 1, 0);
}

/* Before our first change to the directory in this run. */
static void store_changing(struct netd_ipam_store *s)
{
	if (s->changed)
		return;
	stamp_write(s, false);
	s->changed = true;
}

/* Stop using the index for this run; with the stamp invalid, the next run
 * rebuilds it. */
static void index_off(struct netd_ipam_store *s)
{
	store_changing(s);
	if (s->idxfd >= 0)
		close(s->idxfd);
	s->idxfd = -1;
}

/* Entry name: id and ifname with every byte outside [A-Za-z0-9._-]
 * %-escaped, joined by '+'. An old id-only reservation has ifname NULL and
 * gets "<id>+". -ENAMETOOLONG when it does not fit a file name. */
static int index_name(const char *id, const char *ifname, char out[NAME_MAX + 1])
{
	size_t o = 0;

	for (int part = 0; part < 2; part++) {
		for (const unsigned char *p = (const unsigned char *)(part ? (ifname ? ifname : "") : id); *p; p++) {
			if (o + 4 > NAME_MAX)
				return -ENAMETOOLONG;
			if (isalnum(*p) || *p == '.' || *p == '_' || *p == '-')
				out[o++] = (char)*p;
			else
				o += (size_t)snprintf(out + o, 4, "%%%02X", *p);
		}
		if (!part)
			out[o++] = '+';
	}
	out[o] = '\0';
	return 0;
}

/* Addresses of one entry into addrs (up to max). Returns how many, 0 when
 * there is no entry, <0 on error. */
static int index_read(struct netd_ipam_store *s, const char *name, struct netd_addr *addrs, size_t max)
{
	char body[LEASE_MAX], *save = NULL;
	int n = 0, rc;

	if ((rc = read_small(s->idxfd, name, body, sizeof(body))) < 0)
		return rc == -ENOENT ? 0 : rc;
	if (strncmp(body, INDEX_MAGIC, strlen(INDEX_MAGIC)))
		return -EINVAL;
	for (char *w = strtok_r(body + strlen(INDEX_MAGIC), "\n", &save); w; w = strtok_r(NULL, "\n", &save)) {
		if ((size_t)n == max || netd_addr_parse(w, &addrs[n]) < 0)
			return -EINVAL;
		n++;
	}
	return n;
}

static int index_write(struct netd_ipam_store *s, const char *name, const struct netd_addr *addrs, size_t n)
{
	char body[LEASE_MAX], a[NETD_ADDR_STRLEN];
	size_t off = 0;
	int fd, rc;

	if (!n)
		return unlinkat(s->idxfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	off = (size_t)snprintf(body, sizeof(body), "%s", INDEX_MAGIC);
	for (size_t i = 0; i < n && off < sizeof(body); i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off, "%s\n", netd_addr_str(&addrs[i], a));
	if (off >= sizeof(body))
		return -E2BIG;
	fd = openat(s->idxfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, body, off);
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

#define INDEX_MAX 64	/* addresses per attachment the index holds */

/* Add or drop one address of an attachment's entry. Any failure turns the
 * index off (see index_off): it must never be wrong, only absent. */
static void index_update(struct netd_ipam_store *s, const char *id, const char *ifname,
			 const struct netd_addr *a, bool add)
{
	struct netd_addr addrs[INDEX_MAX];
	char name[NAME_MAX + 1];
	int n, k = 0;

	if (s->idxfd < 0)
		return;
	if (index_name(id, ifname, name) < 0 || (n = index_read(s, name, addrs, INDEX_MAX)) < 0) {
		index_off(s);
		return;
	}
	for (int i = 0; i < n; i++)
		if (!netd_addr_eq(&addrs[i], a))
			addrs[k++] = addrs[i];
	if (add) {
		if (k == INDEX_MAX) {
			index_off(s);
			return;
		}
		addrs[k++] = *a;
	}
	if (index_write(s, name, addrs, (size_t)k) < 0)
		index_off(s);
}

struct keyed_lease {
	char name[NAME_MAX + 1];
	const struct netd_ipam_lease *l;
};

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed_lease *)a)->name, ((const struct keyed_lease *)b)->name);
}

/* Empty the index and write it again from every reservation file. */
static int index_rebuild(struct netd_ipam_store *s)
{
	struct netd_ipam_lease *leases = NULL;
	struct keyed_lease *k = NULL;
	struct dirent *de;
	size_t n = 0;
	int fd, rc = 0;
	DIR *d;

	store_changing(s);
	if ((fd = openat(s->idxfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(d = fdopendir(fd))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && unlinkat(s->idxfd, de->d_name, 0) < 0) {
			rc = -errno;
			break;
		}
	closedir(d);
	if (rc < 0 || (rc = netd_ipam_store_list(s, &leases, &n, NULL)) < 0)
		return rc;
	if (n && !(k = calloc(n, sizeof(*k))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		k[i].l = &leases[i];
		rc = index_name(leases[i].id, leases[i].ifname, k[i].name);
	}
	if (!rc && n)
		qsort(k, n, sizeof(*k), keyed_cmp);
	for (size_t i = 0, j; !rc && i < n; i = j) {
		struct netd_addr addrs[INDEX_MAX];
		size_t m = 0;

		for (j = i; j < n && !strcmp(k[j].name, k[i].name); j++)
			if (m < INDEX_MAX)
				addrs[m++] = k[j].l->addr;
		rc = j - i > INDEX_MAX ? -E2BIG : index_write(s, k[i].name, addrs, m);
	}
	free(k);
	netd_ipam_leases_free(leases, n);
	return rc;
}

/* After the lock: use the index if the stamp says nobody else changed the
 * directory since it was written; else rebuild it. Without a writable lock
 * file or index directory, run on scans alone. */
static void index_open(struct netd_ipam_store *s)
{
	char have[STAMP_LEN], want[STAMP_LEN];
	struct stat st;

	if (!s->lock_rw)
		return;
	s->idxfd = openat(s->dirfd, INDEX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->idxfd < 0 && errno == ENOENT) {
		store_changing(s);
		if (mkdirat(s->dirfd, INDEX_DIR, 0755) == 0 || errno == EEXIST)
			s->idxfd = openat(s->dirfd, INDEX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (s->idxfd < 0)
		return;
	if (!s->changed && fstat(s->dirfd, &st) == 0 && pread(s->lockfd, have, sizeof(have), 0) == sizeof(have)) {
		stamp_format(&st, want);
		if (!memcmp(have, want, sizeof(have)))
			return;
	}
	if (index_rebuild(s) < 0)
		index_off(s);
}

int netd_ipam_store_open(const char *data_dir, const char *network, struct netd_ipam_store **out,
			 struct netd_err *err)
{
	struct netd_ipam_store *s;
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return oom(err);
	s->dirfd = s->lockfd = s->idxfd = -1;
	if (asprintf(&s->path, "%s/%s", data_dir, network) < 0) {
		s->path = NULL;
		rc = oom(err);
		goto fail;
	}
	s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0 && errno == ENOENT) {
		if ((rc = netd_mkdir_p(s->path, 0755)) < 0) {
			netd_err_set(err, rc, CNI_ERR_IO, "cannot create %s: %s", s->path, strerror(-rc));
			goto fail;
		}
		s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (s->dirfd < 0) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "cannot open %s: %m", s->path);
		goto fail;
	}
	/* Read-write so it can hold the index stamp; read-only still locks. */
	s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	s->lock_rw = s->lockfd >= 0;
	if (s->lockfd < 0)
		s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "cannot open %s/" LOCK_NAME ": %m", s->path);
		goto fail;
	}
	while (flock(s->lockfd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "cannot lock %s/" LOCK_NAME ": %m", s->path);
		goto fail;
	}
	index_open(s);
	*out = s;
	return 0;
fail:
	netd_ipam_store_close(s);
	return rc;
}

void netd_ipam_store_close(struct netd_ipam_store *s)
{
	if (!s)
		return;
	if (s->changed && s->idxfd >= 0)
		stamp_write(s, true);
	if (s->idxfd >= 0)
		close(s->idxfd);
	if (s->lockfd >= 0)
		close(s->lockfd);	/* drops the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->path);
	free(s);
}

bool netd_ipam_store_indexed(const struct netd_ipam_store *s)
{
	return s && s->idxfd >= 0;
}

int netd_ipam_store_reserve(struct netd_ipam_store *s, const struct netd_addr *a, const char *id,
			    const char *ifname, size_t set, struct netd_err *err)
{
	char name[NETD_ADDR_STRLEN], last[sizeof(LAST_PREFIX) + 24], *body;
	int fd, rc, len;

	netd_addr_str(a, name);
	store_changing(s);
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return netd_err_set(err, -errno, CNI_ERR_IO, "cannot create %s/%s: %m", s->path, name);
	}
	len = asprintf(&body, "%s\r\n%s", id, ifname);
	if (len < 0) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return oom(err);
	}
	rc = write_all(fd, body, (size_t)len);
	free(body);
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (rc < 0) {
		unlinkat(s->dirfd, name, 0);
		return netd_err_set(err, rc, CNI_ERR_IO, "cannot write %s/%s: %s", s->path, name, strerror(-rc));
	}
	index_update(s, id, ifname, a, true);
	/* Only a hint for where to continue, as in host-local: a failure here
	 * costs the round robin one turn, not the reservation. */
	snprintf(last, sizeof(last), LAST_PREFIX "%zu", set);
	fd = openat(s->dirfd, last, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		write_all(fd, name, strlen(name));
		close(fd);
	}
	return 0;
}

/* Remove l's file and its index line. */
static int remove_lease(struct netd_ipam_store *s, const struct netd_ipam_lease *l)
{
	char name[NETD_ADDR_STRLEN];

	store_changing(s);
	if (unlinkat(s->dirfd, netd_addr_str(&l->addr, name), 0) < 0)
		return -errno;
	index_update(s, l->id, l->ifname, &l->addr, false);
	return 0;
}

int netd_ipam_store_remove(struct netd_ipam_store *s, const struct netd_addr *a)
{
	struct netd_ipam_lease l;
	char name[NETD_ADDR_STRLEN];
	int rc;

	if ((rc = netd_ipam_store_get(s, a, &l)) == 0) {
		rc = remove_lease(s, &l);
		netd_ipam_lease_clear(&l);
		return rc;
	}
	/* Unreadable: remove it anyway; the index no longer knows its owner. */
	store_changing(s);
	if (unlinkat(s->dirfd, netd_addr_str(a, name), 0) < 0)
		return -errno;
	index_off(s);
	return 0;
}
static int read_small(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	size_t off = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	while (off + 1 < size) {
		n = read(fd, buf + off, size - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return (int)off;
}

static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* File body -> lease: "<id>\r\n<ifname>", or just "<id>" from old host-local. */
static int parse_lease(char *body, struct netd_ipam_lease *l)
{
	char *t = trim(body), *sep = strstr(t, "\r\n");

	if (sep) {
		*sep = '\0';
		l->id = strdup(trim(t));
		l->ifname = strdup(trim(sep + 2));
		if (!l->id || !l->ifname)
			return -ENOMEM;
	} else if (!(l->id = strdup(t))) {
		return -ENOMEM;
	}
	return 0;
}

int netd_ipam_store_get(struct netd_ipam_store *s, const struct netd_addr *a, struct netd_ipam_lease *out)
{
	char name[NETD_ADDR_STRLEN], body[LEASE_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = read_small(s->dirfd, netd_addr_str(a, name), body, sizeof(body))) < 0)
		return rc;
	out->addr = *a;
	if ((rc = parse_lease(body, out)) < 0)
		netd_ipam_lease_clear(out);
	return rc;
}

void netd_ipam_lease_clear(struct netd_ipam_lease *l)
{
	if (!l)
		return;
	free(l->id);
	free(l->ifname);
	l->id = l->ifname = NULL;
}

void netd_ipam_leases_free(struct netd_ipam_lease *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		netd_ipam_lease_clear(&l[i]);
	free(l);
}

bool netd_ipam_lease_match(const struct netd_ipam_lease *l, const char *id, const char *ifname)
{
	if (!l->id || strcmp(l->id, id))
		return false;
	return !l->ifname || !strcmp(l->ifname, ifname);
}

int netd_ipam_store_list(struct netd_ipam_store *s, struct netd_ipam_lease **out, size_t *n,
			 struct netd_err *err)
{
	struct netd_ipam_lease *v = NULL;
	struct dirent *de;
	size_t cnt = 0;
	int fd, rc = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	/* fdopendir takes ownership of its fd, so give it a private one. */
	if ((fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(d = fdopendir(fd))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return netd_err_set(err, rc, CNI_ERR_IO, "cannot read %s: %s", s->path, strerror(-rc));
	}
	while ((de = readdir(d))) {
		struct netd_ipam_lease l = {0};
		char body[LEASE_MAX];

		if (netd_addr_parse(de->d_name, &l.addr) < 0)
			continue;
		if ((rc = read_small(s->dirfd, de->d_name, body, sizeof(body))) < 0) {
			if (rc == -ENOENT) {	/* removed meanwhile by someone not locking */
				rc = 0;
				continue;
			}
			netd_err_set(err, rc, CNI_ERR_IO, "cannot read %s/%s: %s", s->path, de->d_name,
				     strerror(-rc));
			break;
		}
		rc = parse_lease(body, &l);
		if (rc < 0 || push((void **)&v, &cnt, sizeof(l), &l) < 0) {
			netd_ipam_lease_clear(&l);
			rc = oom(err);
			break;
		}
	}
	closedir(d);
	if (rc < 0) {
		netd_ipam_leases_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int netd_ipam_store_last(struct netd_ipam_store *s, size_t set, struct netd_addr *out)
{
	char name[sizeof(LAST_PREFIX) + 24], body[128];
	int rc;

	snprintf(name, sizeof(name), LAST_PREFIX "%zu", set);
	if ((rc = read_small(s->dirfd, name, body, sizeof(body))) < 0)
		return rc;
	return netd_addr_parse(trim(body), out);
}

/* ---- operations ---------------------------------------------------------- */

/* Index lookup for held(): -ESTALE when the index cannot answer or an entry
 * does not match its reservation file (then a scan must). */
static int held_indexed(struct netd_ipam_store *s, const char *id, const char *ifname,
			struct netd_ipam_lease **out, size_t *n)
{
	for (int part = 0; part < 2; part++) {
		const char *want_if = part ? NULL : ifname;
		struct netd_addr addrs[INDEX_MAX];
		char name[NAME_MAX + 1];
		int k;

		if (index_name(id, want_if, name) < 0 || (k = index_read(s, name, addrs, INDEX_MAX)) < 0)
			return -ESTALE;
		for (int i = 0; i < k; i++) {
			struct netd_ipam_lease l;
			bool ok;

			if (netd_ipam_store_get(s, &addrs[i], &l) < 0)
				return -ESTALE;
			ok = l.id && !strcmp(l.id, id) &&
			     (want_if ? l.ifname && !strcmp(l.ifname, want_if) : !l.ifname);
			if (!ok || push((void **)out, n, sizeof(l), &l) < 0) {
				netd_ipam_lease_clear(&l);
				return ok ? -ENOMEM : -ESTALE;
			}
		}
	}
	return 0;
}

/* The reservations netd_ipam_lease_match gives to (id, ifname): exact ones
 * and old id-only ones of id. From the index when it is there, else (or
 * when it turns out stale) from a scan of every reservation.
 * With trust_miss false, finding nothing in the index also scans: where
 * timestamps are coarse (no multigrain timestamps, kernels before 6.13),
 * host-local could reserve in the same tick as our last change, unseen by
 * the stamp. DEL and CHECK take that scan (DEL of something never added is
 * rare); ADD trusts the miss, as the attachment being added is new. */
static int held(struct netd_ipam_store *s, const char *id, const char *ifname, bool trust_miss,
		struct netd_ipam_lease **out, size_t *n, struct netd_err *err)
{
	struct netd_ipam_lease *all;
	size_t n_all, k = 0;
	bool missed = false;
	int rc;

	*out = NULL;
	*n = 0;
	if (s->idxfd >= 0) {
		rc = held_indexed(s, id, ifname, out, n);
		if (rc < 0 && rc != -ESTALE)
			return oom(err);
		if (rc == 0 && (*n || trust_miss))
			return 0;
		netd_ipam_leases_free(*out, *n);
		*out = NULL;
		*n = 0;
		if (rc == -ESTALE)
			index_off(s);
		missed = true;
	}
	if ((rc = netd_ipam_store_list(s, &all, &n_all, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_all; i++) {
		if (netd_ipam_lease_match(&all[i], id, ifname))
			all[k++] = all[i];
		else
			netd_ipam_lease_clear(&all[i]);
	}
	/* The scan found what the index did not know: rebuild it next run. */
	if (missed && k)
		index_off(s);
	*out = all;
	*n = k;
	return 0;
}

static void fill_ip(const struct netd_ipam_range *r, const struct netd_addr *a, struct cni_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->address.addr = *a;
	ip->address.len = r->subnet.len;
	ip->gateway = r->gateway;
	ip->iface = -1;
}

/* The requested IP for set `set`, validated, or NULL. */
static int request_for_set(const struct netd_ipam_conf *c, size_t set, const struct netd_addr **out,
			   struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], b[NETD_ADDR_STRLEN];
	const struct netd_addr *found = NULL;

	for (size_t i = 0; i < c->n_requested; i++) {
		const struct netd_addr *q = &c->requested[i];

		if (netd_ipam_find_set(c, q) != (int)set)
			continue;
		if (found)
			return conf_err(err, "requested IPs %s and %s are both in range set %zu: "
					"one address per range set", netd_addr_str(found, a),
					netd_addr_str(q, b), set);
		found = q;
	}
	*out = found;
	return 0;
}

static int check_requests(const struct netd_ipam_conf *c, struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], p[NETD_PREFIX_STRLEN];

	for (size_t i = 0; i < c->n_requested; i++) {
		const struct netd_addr *q = &c->requested[i];
		int set = netd_ipam_find_set(c, q), r;
		const struct netd_ipam_range *rg;
		const struct netd_prefix *ex;

		netd_addr_str(q, a);
		if (set < 0)
			return conf_err(err, "requested IP %s is outside every range of network %s", a,
					c->network);
		r = netd_ipam_find_range(&c->sets[set], q);
		rg = &c->sets[set].ranges[r];
		netd_prefix_str(&rg->subnet, p);
		if (netd_addr_eq(q, &rg->gateway))
			return conf_err(err, "requested IP %s is the gateway of %s", a, p);
		if (special(rg, q))
			return conf_err(err, "requested IP %s is the network or broadcast address of %s", a, p);
		if ((ex = excluded(c, q)))
			return conf_err(err, "requested IP %s is excluded (ipam.exclude %s)", a,
					netd_prefix_str(ex, p));
	}
	return 0;
}

static int alloc_set(const struct netd_ipam_conf *c, struct netd_ipam_store *s, size_t set,
		     const char *id, const char *ifname, const struct netd_addr *req,
		     struct netd_addr *got, struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], buf[512];
	struct netd_addr first, cur, last;
	int rc;

	if (req) {
		rc = netd_ipam_store_reserve(s, req, id, ifname, set, err);
		if (rc == -EEXIST) {
			struct netd_ipam_lease l;
			char who[300] = "another container";

			if (netd_ipam_store_get(s, req, &l) == 0) {
				snprintf(who, sizeof(who), "container %s%s%s", l.id,
					 l.ifname ? " ifname " : "", l.ifname ? l.ifname : "");
				netd_ipam_lease_clear(&l);
			}
			return netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
					    "requested IP %s is already in use by %s",
					    netd_addr_str(req, a), who);
		}
		if (rc == 0)
			*got = *req;
		return rc;
	}
	rc = netd_ipam_next(c, set, netd_ipam_store_last(s, set, &last) == 0 ? &last : NULL, &first);
	cur = first;
	while (rc == 0) {
		rc = netd_ipam_store_reserve(s, &cur, id, ifname, set, err);
		if (rc == 0) {
			*got = cur;
			return 0;
		}
		if (rc != -EEXIST)
			return rc;
		rc = netd_ipam_next(c, set, &cur, &cur);
		if (rc == 0 && netd_addr_eq(&cur, &first))
			rc = -ENOSPC;
	}
	return netd_err_set(err, -ENOSPC, NETD_ERR_IPAM_FULL, "no IP addresses available in range set %s",
			    netd_ipam_set_str(&c->sets[set], buf, sizeof(buf)));
}

int netd_ipam_allocate(const struct netd_ipam_conf *c, struct netd_ipam_store *s, const char *id,
		       const char *ifname, struct cni_ip *ips, struct netd_err *err)
{
	char a[NETD_ADDR_STRLEN], b[NETD_ADDR_STRLEN];
	struct netd_ipam_lease *leases = NULL;
	struct netd_addr *fresh;
	size_t n_leases = 0, n_fresh = 0;
	int rc;

	if ((rc = check_requests(c, err)) < 0)
		return rc;
	if ((rc = held(s, id, ifname, true, &leases, &n_leases, err)) < 0)
		return rc;
	if (!(fresh = calloc(c->n_sets, sizeof(*fresh)))) {
		netd_ipam_leases_free(leases, n_leases);
		return oom(err);
	}
	for (size_t set = 0; set < c->n_sets; set++) {
		const struct netd_addr *req = NULL, *have = NULL;
		struct netd_addr got;

		if ((rc = request_for_set(c, set, &req, err)) < 0)
			goto undo;
		for (size_t i = 0; i < n_leases && !have; i++)
			if (netd_ipam_lease_match(&leases[i], id, ifname) &&
			    netd_ipam_find_set(c, &leases[i].addr) == (int)set)
				have = &leases[i].addr;
		if (have) {
			/* ADD again for the same attachment: hand back what it has. */
			if (req && !netd_addr_eq(req, have)) {
				rc = netd_err_set(err, -EEXIST, NETD_ERR_IN_USE,
						  "container %s ifname %s already has IP %s in range set %zu; "
						  "cannot also take requested IP %s", id, ifname,
						  netd_addr_str(have, a), set, netd_addr_str(req, b));
				goto undo;
			}
			got = *have;
		} else {
			if ((rc = alloc_set(c, s, set, id, ifname, req, &got, err)) < 0)
				goto undo;
			fresh[n_fresh++] = got;
		}
		fill_ip(&c->sets[set].ranges[netd_ipam_find_range(&c->sets[set], &got)], &got, &ips[set]);
	}
	rc = 0;
	goto out;
undo:
	for (size_t i = 0; i < n_fresh; i++)
		netd_ipam_store_remove(s, &fresh[i]);
out:
	free(fresh);
	netd_ipam_leases_free(leases, n_leases);
	return rc;
}

int netd_ipam_release(struct netd_ipam_store *s, const char *id, const char *ifname, struct netd_err *err)
{
	struct netd_ipam_lease *leases;
	size_t n;
	int rc, removed = 0, first_err = 0;

	if ((rc = held(s, id, ifname, false, &leases, &n, err)) < 0)
		return rc;
	/* Exact (id, ifname) first; old id-only files only when there is none,
	 * which is what host-local does. */
	for (int pass = 0; pass < 2 && !removed; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct netd_ipam_lease *l = &leases[i];
			char a[NETD_ADDR_STRLEN];

			if (!l->id || strcmp(l->id, id))
				continue;
			if (pass == 0 ? !l->ifname || strcmp(l->ifname, ifname) : l->ifname != NULL)
				continue;
			rc = remove_lease(s, l);
			if (rc == 0)
				removed++;
			else if (rc != -ENOENT && !first_err)
				first_err = netd_err_set(err, rc, CNI_ERR_IO, "cannot remove %s: %s",
							 netd_addr_str(&l->addr, a), strerror(-rc));
		}
	}
	netd_ipam_leases_free(leases, n);
	return first_err ? first_err : removed;
}

int netd_ipam_check(const struct netd_ipam_conf *c, struct netd_ipam_store *s, const char *id,
		    const char *ifname, const struct netd_addr *addrs, size_t n_addrs, struct netd_err *err)
{
	struct netd_ipam_lease *leases;
	char a[NETD_ADDR_STRLEN];
	size_t n;
	int rc;

	if ((rc = held(s, id, ifname, false, &leases, &n, err)) < 0)
		return rc;
	netd_ipam_leases_free(leases, n);
	if (!n)
		return netd_err_set(err, -ENOENT, NETD_ERR_DRIFT,
				    "no address is reserved for container %s ifname %s in network %s",
				    id, ifname, c->network);
	for (size_t i = 0; i < n_addrs; i++) {
		struct netd_ipam_lease l;
		bool ok;

		if (netd_ipam_find_set(c, &addrs[i]) < 0)
			continue;	/* another IPAM's address */
		netd_addr_str(&addrs[i], a);
		if (netd_ipam_store_get(s, &addrs[i], &l) < 0)
			return netd_err_set(err, -ENOENT, NETD_ERR_DRIFT, "%s is not reserved in network %s",
					    a, c->network);
		ok = netd_ipam_lease_match(&l, id, ifname);
		netd_ipam_lease_clear(&l);
		if (!ok)
			return netd_err_set(err, -EEXIST, NETD_ERR_DRIFT,
					    "%s is reserved for another container, not %s ifname %s", a, id, ifname);
	}
	return 0;
}

bool netd_ipam_gc_keep(const struct netd_ipam_lease *l, const struct netd_ipam_attachment *valid,
		       size_t n_valid)
{
	for (size_t i = 0; i < n_valid; i++)
		if (valid[i].id && valid[i].ifname && netd_ipam_lease_match(l, valid[i].id, valid[i].ifname))
			return true;
	return false;
}

int netd_ipam_gc(struct netd_ipam_store *s, const struct netd_ipam_attachment *valid, size_t n_valid,
		 struct netd_err *err)
{
	struct netd_ipam_lease *leases;
	char a[NETD_ADDR_STRLEN];
	size_t n;
	int rc, removed = 0, first_err = 0;

	if ((rc = netd_ipam_store_list(s, &leases, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (netd_ipam_gc_keep(&leases[i], valid, n_valid))
			continue;
		rc = remove_lease(s, &leases[i]);
		if (rc == 0)
			removed++;
		else if (rc != -ENOENT && !first_err)
			first_err = netd_err_set(err, rc, CNI_ERR_IO, "cannot remove %s: %s",
						 netd_addr_str(&leases[i].addr, a), strerror(-rc));
	}
	netd_ipam_leases_free(leases, n);
	return first_err ? first_err : removed;
}

/* The nearest existing ancestor of path must be a writable directory. */
static int writable(const char *path)
{
	char *p = strdup(path), *slash;
	struct stat st;
	int rc;

	if (!p)
		return -ENOMEM;
	for (;;) {
		if (stat(p, &st) == 0) {
			rc = !S_ISDIR(st.st_mode) ? -ENOTDIR : access(p, W_OK | X_OK) < 0 ? -errno : 0;
			break;
		}
		if (errno != ENOENT || !(slash = strrchr(p, '/')) || slash == p) {
			rc = -errno;
			break;
		}
		*slash = '\0';
	}
	free(p);
	return rc;
}

int netd_ipam_status(const struct netd_ipam_conf *c, struct netd_err *err)
{
	char *path, buf[512];
	struct netd_ipam_store *s = NULL;
	struct stat st;
	int rc;

	if (asprintf(&path, "%s/%s", c->data_dir, c->network) < 0)
		return oom(err);
	if ((rc = writable(path)) < 0) {
		netd_err_set(err, rc, NETD_IPAM_ERR_NOT_AVAILABLE, "data dir %s is not writable: %s", path,
			     strerror(-rc));
		free(path);
		return rc;
	}
	if (stat(path, &st) == 0 && (rc = netd_ipam_store_open(c->data_dir, c->network, &s, err)) < 0) {
		free(path);
		if (err)
			err->code = NETD_IPAM_ERR_NOT_AVAILABLE;
		return rc;
	}
	free(path);
	for (size_t set = 0; set < c->n_sets; set++) {
		struct netd_addr first, cur;
		bool free_found = false;

		rc = netd_ipam_next(c, set, NULL, &first);
		cur = first;
		while (rc == 0 && !free_found) {
			char name[NETD_ADDR_STRLEN];

			if (!s || faccessat(s->dirfd, netd_addr_str(&cur, name), F_OK, 0) < 0)
				free_found = true;
			else if ((rc = netd_ipam_next(c, set, &cur, &cur)) == 0 && netd_addr_eq(&cur, &first))
				break;
		}
		if (!free_found) {
			netd_ipam_store_close(s);
			return netd_err_set(err, -ENOSPC, NETD_IPAM_ERR_NOT_AVAILABLE,
					    "no IP addresses available in range set %s",
					    netd_ipam_set_str(&c->sets[set], buf, sizeof(buf)));
		}
	}
	netd_ipam_store_close(s);
	return 0;
}

static int add_words(char ***list, size_t *n, char *rest)
{
	char *save = NULL;
	int rc;

	for (char *w = strtok_r(rest, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if ((rc = cni_dns_add(list, n, w)) < 0)
			return rc;
	return 0;
}

int netd_ipam_resolv_conf(const char *path, struct cni_dns *dns, struct netd_err *err)
{
	char line[1024];
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return netd_err_set(err, -errno, CNI_ERR_IO, "ipam.resolvConf: cannot read %s: %m", path);
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *save = NULL, *key, *rest;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == ';')
			continue;
		key = strtok_r(line, " \t", &save);
		rest = save;
		if (!key || !rest)
			continue;
		if (!strcmp(key, "nameserver")) {
			char *w = strtok_r(rest, " \t", &save);

			if (w)
				rc = cni_dns_add(&dns->nameservers, &dns->n_nameservers, w);
		} else if (!strcmp(key, "domain")) {
			char *w = strtok_r(rest, " \t", &save);

			if (w) {
				free(dns->domain);
				if (!(dns->domain = strdup(w)))
					rc = -ENOMEM;
			}
		} else if (!strcmp(key, "search")) {
			rc = add_words(&dns->search, &dns->n_search, rest);
		} else if (!strcmp(key, "options")) {
			rc = add_words(&dns->options, &dns->n_options, rest);
		}
	}
	fclose(f);
	if (rc < 0)
		return oom(err);
	return 0;
}

int netd_ipam_result(const struct netd_ipam_conf *c, const struct cni_ip *ips, struct cni_result *r,
		     struct netd_err *err)
{
	for (size_t i = 0; i < c->n_sets; i++)
		if (cni_result_add_ip(r, &ips[i]) < 0)
			return oom(err);
	for (size_t i = 0; i < c->n_routes; i++)
		if (cni_result_add_route(r, &c->routes[i]) < 0)
			return oom(err);
	return 0;
}
