/* netdctl — the operator's CLI: talks to netd's API, manages CNI network
 * configs, and plays container runtime for tests and demos (runtime.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "netd/addr.h"
#include "netd/httpc.h"
#include "netd/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: netdctl [global options] COMMAND ...\n"
		"\n"
		"  status                          netd's state\n"
		"  endpoints [--network NET]       endpoints registered with netd\n"
		"  network create [-d DRIVER] [--subnet CIDR]... [--gateway IP]... [--ip-range CIDR]... [--vni N]\n"
		"                 [-o KEY=VALUE]... NAME\n"
		"  network ls | inspect NAME | rm NAME\n"
		"  container add NAME --net A[,B] [-p HOST:CONTAINER[/PROTO]]... [--alias X]... [--link C[:ALIAS]]...\n"
		"  container del NAME | check NAME | ls\n"
		"  topology [--dot]                networks, containers, addresses, ports, links as Graphviz DOT\n"
		"  dns NAME --from CONTAINER [--type A|AAAA|PTR|ANY]\n"
		"                                  what CONTAINER's resolver answers for NAME, and why\n"
		"\n"
		"global options (also from the environment):\n"
		"  --socket PATH      netd API socket ($NETD_SOCKET, /run/netd/netd.sock)\n"
		"  --config-dir DIR   CNI config dir ($NETD_CNI_CONF_DIR, /etc/cni/net.d)\n"
		"  --cni-path PATH    plugin dirs ($CNI_PATH, /opt/cni/bin)\n"
		"  --cache-dir DIR    container results ($NETD_CACHE_DIR, /var/lib/netd/cache)\n"
		"  --json             machine-readable output\n"
		"exit status: 0 ok, 1 failed, 2 usage error. See docs/netdctl.md.\n");
}

/* GET/POST/DELETE against netd; on success *out is the parsed body (or NULL
 * for empty bodies) and the HTTP status is returned; -1 after printing why. */
static int api(const char *method, const char *target, const char *body, json_t **out)
{
	struct netd_http_resp r;
	struct netd_err err = {0};
	int rc = netd_http_request(opts.socket, method, target, body, 10000, &r, &err);

	if (out)
		*out = NULL;
	if (rc < 0) {
		if (netd_httpc_unreachable(rc))
			ctl_fail("netd is not running (%s)", err.msg);
		else
			ctl_fail("%s", err.msg);
		return -1;
	}
	if (r.len && out)
		*out = json_loads(r.body, JSON_DECODE_ANY, NULL);
	if (r.status >= 400 && out && *out && json_is_string(json_object_get(*out, "error"))) {
		ctl_fail("%s", json_string_value(json_object_get(*out, "error")));
		json_decref(*out);
		*out = NULL;
		rc = -1;
	} else {
		rc = r.status;
	}
	netd_http_resp_free(&r);
	return rc;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	puts(s ? s : "null");
	free(s);
}

static int cmd_status(int argc, char **argv)
{
	json_t *j;
	const char *k;
	json_t *v;

	if (argc != 1)
		return usage(stderr), EXIT_USAGE;
	if (api("GET", "/v1/status", NULL, &j) != 200)
		return 1;
	if (opts.json) {
		print_json(j);
	} else {
		json_object_foreach(j, k, v) {
			char *s = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
			size_t i;
			json_t *w;

			/* a list of messages (warnings): one a line, as written */
			if (json_is_array(v) && (!json_array_size(v) || json_is_string(json_array_get(v, 0)))) {
				if (!json_array_size(v))
					printf("%-10s none\n", k);
				json_array_foreach(v, i, w)
					printf("%-10s %s\n", i ? "" : k, json_string_value(w) ?: "");
			} else {
				printf("%-10s %s\n", k, s);
			}
			free(s);
		}
	}
	json_decref(j);
	return 0;
}

static char *join_strings(json_t *arr, const char *key)
{
	size_t i, len = 1;
	json_t *e;
	char *s;

	json_array_foreach(arr, i, e) {
		const char *v = key ? json_string_value(json_object_get(e, key)) : json_string_value(e);

		len += (v ? strlen(v) : 0) + 1;
	}
	s = calloc(1, len);
	json_array_foreach(arr, i, e) {
		const char *v = key ? json_string_value(json_object_get(e, key)) : json_string_value(e);

		if (!v)
			continue;
		if (*s)
			strcat(s, ",");
		strcat(s, v);
	}
	return s;
}

static int cmd_endpoints(int argc, char **argv)
{
	char target[256] = "/v1/endpoints";
	const char **cells;
	char **frees;
	size_t i, n, nf = 0;
	json_t *j, *e;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--network") && a + 1 < argc)
			snprintf(target, sizeof(target), "/v1/endpoints?network=%s", argv[++a]);
		else
			return usage(stderr), EXIT_USAGE;
	}
	if (api("GET", target, NULL, &j) != 200)
		return 1;
	if (opts.json) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	n = json_array_size(j);
	cells = calloc((n + 1) * 6, sizeof(*cells));
	frees = calloc(n * 2 + 1, sizeof(*frees));
	const char *hdr[] = {"CONTAINER", "NAME", "NETWORK", "IFNAME", "IPS", "ALIASES"};
	memcpy(cells, hdr, sizeof(hdr));
	json_array_foreach(j, i, e) {
		const char **row = cells + (i + 1) * 6;

		row[0] = json_string_value(json_object_get(e, "containerID"));
		row[1] = json_string_value(json_object_get(e, "name"));
		row[2] = json_string_value(json_object_get(e, "network"));
		row[3] = json_string_value(json_object_get(e, "ifname"));
		row[4] = frees[nf++] = join_strings(json_object_get(e, "ips"), NULL);
		row[5] = frees[nf++] = join_strings(json_object_get(e, "aliases"), NULL);
		for (int c = 0; c < 6; c++)
			if (!row[c] || !*row[c])
				row[c] = "-";
	}
	ctl_table(cells, n + 1, 6);
	for (i = 0; i < nf; i++)
		free(frees[i]);
	free(frees);
	free(cells);
	json_decref(j);
	return 0;
}

/* ---- networks: CNI conflists in the config dir --------------------------- */

static json_t *main_plugin(json_t *conflist)
{
	return json_array_get(json_object_get(conflist, "plugins"), 0);
}

/* Subnets of a conflist's first plugin (ipam.subnet or ipam.ranges). */
static void subnets_of(json_t *conflist, json_t *into)
{
	json_t *ipam = json_object_get(main_plugin(conflist), "ipam"), *rs, *set, *r;
	size_t i, k;

	if (json_is_string(json_object_get(ipam, "subnet")))
		json_array_append(into, json_object_get(ipam, "subnet"));
	rs = json_object_get(ipam, "ranges");
	json_array_foreach(rs, i, set)
		json_array_foreach(set, k, r)
			if (json_is_string(json_object_get(r, "subnet")))
				json_array_append(into, json_object_get(r, "subnet"));
}

/* Every conflist's name in the config dir, sorted. */
static json_t *all_networks(void)
{
	json_t *out = json_array();
	struct dirent **ents;
	int n = scandir(opts.conf_dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);

		if (l > 9 && !strcmp(ents[i]->d_name + l - 9, ".conflist")) {
			ents[i]->d_name[l - 9] = 0;
			json_array_append_new(out, json_string(ents[i]->d_name));
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	return out;
}

static bool subnet_in_use(const struct netd_prefix *p)
{
	json_t *names = all_networks(), *n;
	bool used = false;
	size_t i;

	json_array_foreach(names, i, n) {
		json_t *cl, *subs = json_array(), *s;
		size_t k;

		if (ctl_conflist_load(json_string_value(n), &cl, NULL) == 0) {
			subnets_of(cl, subs);
			json_decref(cl);
		}
		json_array_foreach(subs, k, s) {
			struct netd_prefix q;

			if (netd_prefix_parse(json_string_value(s), &q) == 0 && netd_prefix_overlaps(p, &q))
				used = true;
		}
		json_decref(subs);
	}
	json_decref(names);
	return used;
}

/* "-o key=value": numbers and booleans stay JSON, everything else is a string */
static json_t *option_value(const char *v)
{
	json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);

	if (j && (json_is_number(j) || json_is_boolean(j)))
		return j;
	json_decref(j);
	return json_string(v);
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return (!*s || *end || errno || *s == '-' || *out < min || *out > max) ? -EINVAL : 0;
}

/* First and last address of r (netd-ipam itself never hands out the
 * subnet's network or broadcast address). */
static void range_bounds(const struct netd_prefix *r, struct netd_addr *first, struct netd_addr *last)
{
	int bits = r->addr.family == AF_INET ? 32 : 128;

	*first = r->addr;
	*last = r->addr;
	for (int i = r->len; i < bits; i++) {
		first->b[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
		last->b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
}

/* The overlay's VNI: given, or derived from the name (FNV-1a, folded into
 * 1..16777215) so that every host creating the network by the same name
 * agrees without talking. "peers" given as "a,b,c" becomes a list. */
static void overlay_conf(json_t *main_conf, const char *name, unsigned long vni, json_t *opts_obj)
{
	json_t *peers = json_object_get(opts_obj, "peers");

	if (!vni) {
		uint32_t h = 2166136261u;

		for (const char *c = name; *c; c++)
			h = (h ^ (uint8_t)*c) * 16777619u;
		vni = (h % 16777215u) + 1;
	}
	json_object_set_new(main_conf, "vni", json_integer((json_int_t)vni));
	if (json_is_string(peers)) {
		json_t *list = json_array();
		char *dup = strdup(json_string_value(peers)), *save = NULL;

		for (char *t = dup ? strtok_r(dup, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save))
			json_array_append_new(list, json_string(t));
		free(dup);
		json_object_set_new(opts_obj, "peers", list);
	}
}

/* The network (malloc'ed name) whose conflist in the config dir uses bridge
 * br, or NULL. */
static char *bridge_user(const char *br)
{
	json_t *names = all_networks(), *n;
	char *user = NULL;
	size_t i;

	json_array_foreach(names, i, n) {
		json_t *cl;
		const char *b;

		if (ctl_conflist_load(json_string_value(n), &cl, NULL) < 0)
			continue;
		b = json_string_value(json_object_get(main_plugin(cl), "bridge"));
		if (b && !strcmp(b, br) && !user)
			user = strdup(json_string_value(n));
		json_decref(cl);
	}
	json_decref(names);
	return user;
}

/* `--subnet`, `--gateway` and `--ip-range` may each be given more than once
 * (as with docker and podman: `--subnet 10.1.0.0/24 --subnet fd00:1::/64` is
 * a dual-stack network); each gateway and range belongs to the subnet that
 * holds it. */
#define MAX_SUBNETS 4

struct subnet_opt {
	struct netd_prefix p;
	const char *gw, *rng;	/* as given, or NULL */
	struct netd_addr gwa;
	struct netd_prefix rnga;
};

static int add_opt(const char **list, int *n, const char *v, const char *flag)
{
	if (*n == MAX_SUBNETS)
		return ctl_fail("%s may be given at most %d times", flag, MAX_SUBNETS), -1;
	list[(*n)++] = v;
	return 0;
}

static void subnets_str(const struct subnet_opt *sub, int n, char *buf, size_t size)
{
	char one[NETD_PREFIX_STRLEN];

	buf[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "", netd_prefix_str(&sub[i].p, one));
}

/* Give each --gateway and --ip-range to the subnet of its family that holds
 * it; exit code 2 (usage) for one that fits none or a subnet given two. */
static int place_gw_ranges(struct subnet_opt *sub, int n, const char **gws, int n_gw, const char **rngs, int n_rng)
{
	char all[4 * NETD_PREFIX_STRLEN + 8];
	int i, k;

	subnets_str(sub, n, all, sizeof(all));
	for (k = 0; k < n_gw; k++) {
		struct netd_addr a;

		for (i = 0; i < n && netd_addr_parse(gws[k], &a) == 0; i++)
			if (netd_prefix_contains(&sub[i].p, &a))
				break;
		if (i >= n || !n)
			return ctl_fail("--gateway '%s' is not an address in %s", gws[k], all), EXIT_USAGE;
		if (sub[i].gw)
			return ctl_fail("--gateway '%s' and '%s' are both in %s", sub[i].gw, gws[k],
					netd_prefix_str(&sub[i].p, all)), EXIT_USAGE;
		sub[i].gw = gws[k];
		sub[i].gwa = a;
	}
	for (k = 0; k < n_rng; k++) {
		struct netd_prefix r;

		for (i = 0; i < n && netd_prefix_parse(rngs[k], &r) == 0; i++)
			if (r.addr.family == sub[i].p.addr.family && r.len >= sub[i].p.len &&
			    netd_prefix_contains(&sub[i].p, &r.addr))
				break;
		if (i >= n || !n)
			return ctl_fail("--ip-range '%s' is not a CIDR inside %s", rngs[k], all), EXIT_USAGE;
		if (sub[i].rng)
			return ctl_fail("--ip-range '%s' and '%s' are both in %s", sub[i].rng, rngs[k],
					netd_prefix_str(&sub[i].p, all)), EXIT_USAGE;
		sub[i].rng = rngs[k];
		sub[i].rnga = r;
	}
	return 0;
}

/* netd-ipam's section: one range set per subnet (an address from each), a
 * default route per family */
static json_t *ipam_conf(const struct subnet_opt *sub, int n)
{
	json_t *ranges = json_array(), *routes = json_array();
	bool v4 = false, v6 = false;
	char buf[NETD_PREFIX_STRLEN];

	for (int i = 0; i < n; i++) {
		json_t *range = json_pack("{s:s}", "subnet", netd_prefix_str(&sub[i].p, buf));
		bool *seen = sub[i].p.addr.family == AF_INET ? &v4 : &v6;

		if (sub[i].gw)
			json_object_set_new(range, "gateway", json_string(netd_addr_str(&sub[i].gwa, buf)));
		if (sub[i].rng) {
			struct netd_addr first, last;

			range_bounds(&sub[i].rnga, &first, &last);
			json_object_set_new(range, "rangeStart", json_string(netd_addr_str(&first, buf)));
			json_object_set_new(range, "rangeEnd", json_string(netd_addr_str(&last, buf)));
		}
		json_array_append_new(ranges, json_pack("[o]", range));
		if (!*seen)
			json_array_append_new(routes, json_pack("{s:s}", "dst", seen == &v4 ? "0.0.0.0/0" : "::/0"));
		*seen = true;
	}
	return json_pack("{s:s, s:o, s:o}", "type", "netd-ipam", "ranges", ranges, "routes", routes);
}

static int network_create(int argc, char **argv, json_t *opts_obj)
{
	const char *driver = "bridge", *name = NULL, *vni = NULL;
	const char *subnets[MAX_SUBNETS], *gws[MAX_SUBNETS], *rngs[MAX_SUBNETS];
	int n_sub = 0, n_gw = 0, n_rng = 0;
	struct subnet_opt sub[MAX_SUBNETS] = {0};
	json_t *main_conf, *conflist, *body, *ipam_opts;
	char path[4096], tmp[4200], type[80];
	unsigned long vni_n = 0;
	char *s;
	int fd, rc;

	for (int a = 2; a < argc; a++) {
		const char *o = argv[a];

		if ((!strcmp(o, "-d") || !strcmp(o, "--driver")) && a + 1 < argc)
			driver = argv[++a];
		else if (!strcmp(o, "--subnet") && a + 1 < argc) {
			if (add_opt(subnets, &n_sub, argv[++a], o) < 0)
				return EXIT_USAGE;
		} else if (!strcmp(o, "--gateway") && a + 1 < argc) {
			if (add_opt(gws, &n_gw, argv[++a], o) < 0)
				return EXIT_USAGE;
		} else if (!strcmp(o, "--ip-range") && a + 1 < argc) {
			if (add_opt(rngs, &n_rng, argv[++a], o) < 0)
				return EXIT_USAGE;
		}
		else if (!strcmp(o, "--vni") && a + 1 < argc)
			vni = argv[++a];
		else if ((!strcmp(o, "-o") || !strcmp(o, "--opt")) && a + 1 < argc) {
			char *kv = argv[++a], *eq = strchr(kv, '=');

			if (!eq || eq == kv)
				return ctl_fail("-o wants KEY=VALUE, not '%s'", kv), EXIT_USAGE;
			*eq = 0;
			/* "ipam.KEY" goes to the IPAM section (dataDir, per host) */
			if (!strncmp(kv, "ipam.", 5) && kv[5]) {
				if (!json_is_object(ipam_opts = json_object_get(opts_obj, "ipam")))
					json_object_set_new(opts_obj, "ipam", ipam_opts = json_object());
				json_object_set_new(ipam_opts, kv + 5, option_value(eq + 1));
			}
			else
				json_object_set_new(opts_obj, kv, option_value(eq + 1));
		} else if (o[0] == '-' || name)
			return usage(stderr), EXIT_USAGE;
		else
			name = o;
	}
	if (!name)
		return usage(stderr), EXIT_USAGE;
	if (!netd_name_valid(name))
		return ctl_fail("'%s' is not a valid network name (" NETD_NAME_RULE ")", name), EXIT_USAGE;
	if (!ctl_driver_known(driver) || !ctl_driver_installed(driver)) {
		char installed[128];

		ctl_drivers_installed(installed, sizeof(installed));
		if (!ctl_driver_known(driver))
			return ctl_fail("unknown driver '%s' (installed drivers: %s)", driver, installed), EXIT_USAGE;
		/* a conflist naming a plugin that is not there fails every ADD */
		return ctl_fail("driver '%s' is not installed: no netd-%s in %s (installed drivers: %s)", driver,
				driver, opts.cni_path, installed);
	}
	snprintf(path, sizeof(path), "%s/%s.conflist", opts.conf_dir, name);
	if (access(path, F_OK) == 0)
		return ctl_fail("network '%s' already exists (%s)", name, path);

	for (int i = 0; i < n_sub; i++) {
		if (netd_prefix_parse(subnets[i], &sub[i].p) < 0)
			return ctl_fail("--subnet '%s' is not a subnet like 10.89.1.0/24", subnets[i]), EXIT_USAGE;
		sub[i].p = netd_prefix_network(&sub[i].p);
	}
	if (!n_sub && strcmp(driver, "host")) {
		/* like Docker: the first free 10.89.X.0/24 */
		int x;

		for (x = 0; x < 256; x++) {
			char cand[32];

			snprintf(cand, sizeof(cand), "10.89.%d.0/24", x);
			netd_prefix_parse(cand, &sub[0].p);
			if (!subnet_in_use(&sub[0].p))
				break;
		}
		if (x == 256)
			return ctl_fail("no free subnet in 10.89.0.0/16; pass --subnet");
		n_sub = 1;
	}
	if ((rc = place_gw_ranges(sub, n_sub, gws, n_gw, rngs, n_rng)))
		return rc;
	if (vni && strcmp(driver, "overlay"))
		return ctl_fail("--vni is for the overlay driver"), EXIT_USAGE;
	if (vni && (parse_ulong(vni, 1, 16777215, &vni_n) < 0))
		return ctl_fail("--vni '%s' is not a number in 1..16777215", vni), EXIT_USAGE;

	snprintf(type, sizeof(type), "netd-%s", driver);
	main_conf = json_object();
	json_object_set_new(main_conf, "type", json_string(type));
	if (!strcmp(driver, "bridge")) {
		char br[16];

		/* one bridge per network, named after it (checked below: never shared) */
		ctl_bridge_name(name, br);
		json_object_set_new(main_conf, "bridge", json_string(br));
		json_object_set_new(main_conf, "isGateway", json_true());
		json_object_set_new(main_conf, "ipMasq", json_true());
		json_object_set_new(main_conf, "hairpinMode", json_true());
	}
	/* a host device without --subnet stays L2 only; with one it gets IPAM */
	if (strcmp(driver, "host") || n_sub)
		json_object_set_new(main_conf, "ipam", ipam_conf(sub, n_sub));
	if (!strcmp(driver, "overlay"))
		overlay_conf(main_conf, name, vni_n, opts_obj);
	if ((ipam_opts = json_object_get(main_conf, "ipam")) && json_is_object(json_object_get(opts_obj, "ipam"))) {
		json_object_update(ipam_opts, json_object_get(opts_obj, "ipam"));
		json_object_del(opts_obj, "ipam");
	}
	json_object_update(main_conf, opts_obj);
	if (!strcmp(driver, "bridge")) {
		const char *br = json_string_value(json_object_get(main_conf, "bridge")), *other;

		/* two networks on one bridge would share one L2 segment and its gateways */
		if (br && (other = bridge_user(br))) {
			ctl_fail("bridge %s is already the bridge of network '%s'; name another with -o bridge=NAME", br,
				 other);
			free((char *)other);
			json_decref(main_conf);
			return 1;
		}
	}
	conflist = json_pack("{s:s, s:s, s:[o, {s:s, s:s, s:{s:b, s:b}}]}", "cniVersion", "1.0.0", "name", name,
			     "plugins", main_conf, "type", "netd-endpoint", "socket", opts.socket,
			     "capabilities", "aliases", 1, "portMappings", 1);

	netd_mkdir_p(opts.conf_dir, 0755); /* if this fails, so does the open below, saying why */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	s = json_dumps(conflist, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s) || write(fd, "\n", 1) != 1 || fsync(fd) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		free(s);
		json_decref(conflist);
		return ctl_fail("write %s: %s", path, strerror(e));
	}
	free(s);

	/* Tell netd too if it runs; the conflist alone is enough for CNI. */
	body = json_pack("{s:s, s:s, s:o, s:o}", "name", name, "driver", driver, "subnets", json_array(),
			 "options", json_object());
	subnets_of(conflist, json_object_get(body, "subnets"));
	{
		const char *k;
		json_t *v;

		json_object_foreach(opts_obj, k, v) {
			char *str = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);

			json_object_set_new(json_object_get(body, "options"), k,
					    str ? json_string(str) : json_incref(v));
			free(str);
		}
	}
	s = json_dumps(body, JSON_COMPACT);
	{
		struct netd_http_resp r;

		if (netd_http_request(opts.socket, "POST", "/v1/networks", s, 5000, &r, NULL) == 0)
			netd_http_resp_free(&r);
	}
	free(s);
	json_decref(body);
	if (opts.json)
		print_json(conflist);
	else
		printf("%s\n", name);
	json_decref(conflist);
	return 0;
}

static int network_ls(void)
{
	json_t *names = all_networks(), *n, *out = json_array();
	const char **cells;
	char **frees;
	size_t i, rows = 1;

	cells = calloc((json_array_size(names) + 1) * 4, sizeof(*cells));
	frees = calloc(json_array_size(names) + 1, sizeof(*frees));
	cells[0] = "NAME";
	cells[1] = "DRIVER";
	cells[2] = "SUBNETS";
	cells[3] = "PLUGINS";
	json_array_foreach(names, i, n) {
		json_t *cl, *subs = json_array(), *p;
		char plugins[512] = "";
		size_t k;

		if (ctl_conflist_load(json_string_value(n), &cl, NULL) < 0) {
			json_decref(subs);
			continue;
		}
		subnets_of(cl, subs);
		json_array_foreach(json_object_get(cl, "plugins"), k, p) {
			if (k)
				strncat(plugins, ",", sizeof(plugins) - strlen(plugins) - 1);
			strncat(plugins, json_string_value(json_object_get(p, "type")),
				sizeof(plugins) - strlen(plugins) - 1);
		}
		const char *type = json_string_value(json_object_get(main_plugin(cl), "type"));
		json_array_append_new(out, json_pack("{s:O, s:s, s:O, s:s}", "name", n, "driver",
						     strncmp(type, "netd-", 5) ? type : type + 5, "subnets", subs,
						     "plugins", plugins));
		cells[rows * 4] = json_string_value(n);
		cells[rows * 4 + 1] = json_string_value(json_object_get(json_array_get(out, rows - 1), "driver"));
		cells[rows * 4 + 2] = frees[rows] = join_strings(subs, NULL);
		if (!*cells[rows * 4 + 2])
			cells[rows * 4 + 2] = "-";
		cells[rows * 4 + 3] = json_string_value(json_object_get(json_array_get(out, rows - 1), "plugins"));
		rows++;
		json_decref(subs);
		json_decref(cl);
	}
	if (opts.json)
		print_json(out);
	else
		ctl_table(cells, rows, 4);
	for (i = 0; i < rows; i++)
		free(frees[i]);
	free(frees);
	free(cells);
	json_decref(out);
	json_decref(names);
	return 0;
}

static int network_inspect(const char *name)
{
	struct netd_err err = {0};
	struct netd_http_resp r;
	char target[128];
	json_t *cl, *out;

	if (!netd_name_valid(name))
		return ctl_fail("'%s' is not a valid network name (" NETD_NAME_RULE ")", name), EXIT_USAGE;
	if (ctl_conflist_load(name, &cl, &err) < 0)
		return ctl_fail("%s", err.msg);
	out = json_pack("{s:s, s:o}", "name", name, "conflist", cl);
	/* what netd knows about it, when netd runs */
	snprintf(target, sizeof(target), "/v1/networks/%s", name);
	if (netd_http_request(opts.socket, "GET", target, NULL, 5000, &r, NULL) == 0) {
		if (r.status == 200)
			json_object_set_new(out, "netd", json_loads(r.body, 0, NULL));
		netd_http_resp_free(&r);
	}
	snprintf(target, sizeof(target), "/v1/endpoints?network=%s", name);
	if (netd_http_request(opts.socket, "GET", target, NULL, 5000, &r, NULL) == 0) {
		if (r.status == 200)
			json_object_set_new(out, "endpoints", json_loads(r.body, 0, NULL));
		netd_http_resp_free(&r);
	}
	print_json(out);
	json_decref(out);
	return 0;
}

/* Containers (from the cache) attached to a network. */
static int attached(const char *net)
{
	struct dirent **ents;
	int n = scandir(opts.cache_dir, &ents, NULL, alphasort), count = 0;

	for (int i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s/%s.json", opts.cache_dir, ents[i]->d_name, net);
		if (ents[i]->d_name[0] != '.' && access(path, F_OK) == 0) {
			fprintf(stderr, "netdctl: container '%s' is still attached to '%s'\n", ents[i]->d_name, net);
			count++;
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	return count;
}

static int network_rm(const char *name)
{
	struct netd_err err = {0};
	struct netd_http_resp r;
	char path[4096], target[128], br[16];
	json_t *cl;
	bool ours;

	if (!netd_name_valid(name))
		return ctl_fail("'%s' is not a valid network name (" NETD_NAME_RULE ")", name), EXIT_USAGE;
	if (ctl_conflist_load(name, &cl, &err) < 0)
		return ctl_fail("%s", err.msg);
	/* the bridge `network create` named (not one given with -o bridge=) */
	ctl_bridge_name(name, br);
	ours = !strcmp(json_string_value(json_object_get(main_plugin(cl), "type")), "netd-bridge") &&
	       json_is_string(json_object_get(main_plugin(cl), "bridge")) &&
	       !strcmp(json_string_value(json_object_get(main_plugin(cl), "bridge")), br);
	json_decref(cl);
	if (attached(name))
		return ctl_fail("network '%s' is in use; remove its containers first", name);
	snprintf(target, sizeof(target), "/v1/networks/%s", name);
	if (netd_http_request(opts.socket, "DELETE", target, NULL, 5000, &r, NULL) == 0) {
		int st = r.status;

		netd_http_resp_free(&r);
		if (st == 409)
			return ctl_fail("netd still has endpoints on network '%s'", name);
	}
	if (ours && ctl_bridge_remove_unused(br, &err) < 0)
		return ctl_fail("network '%s' %s: %s", name, err.code == NETD_ERR_IN_USE ? "is in use" : "not removed",
				err.msg);
	snprintf(path, sizeof(path), "%s/%s.conflist", opts.conf_dir, name);
	if (unlink(path) < 0)
		return ctl_fail("remove %s: %s", path, strerror(errno));
	if (!opts.json)
		printf("%s\n", name);
	return 0;
}

static int cmd_network(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "create")) {
		json_t *o = json_object();
		int rc = network_create(argc, argv, o);

		json_decref(o);
		return rc;
	}
	if ((!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")) && argc == 2)
		return network_ls();
	if (!strcmp(argv[1], "inspect") && argc == 3)
		return network_inspect(argv[2]);
	if ((!strcmp(argv[1], "rm") || !strcmp(argv[1], "remove")) && argc == 3)
		return network_rm(argv[2]);
	return usage(stderr), EXIT_USAGE;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	char *args[argc + 1];
	int n = 0;

	/* a plugin that exits without reading its config must not kill us */
	signal(SIGPIPE, SIG_IGN);
	opts.socket = env_or("NETD_SOCKET", "/run/netd/netd.sock");
	opts.conf_dir = env_or("NETD_CNI_CONF_DIR", "/etc/cni/net.d");
	opts.cni_path = env_or("CNI_PATH", "/opt/cni/bin");
	opts.cache_dir = env_or("NETD_CACHE_DIR", "/var/lib/netd/cache");
	/* global options may come anywhere on the line */
	for (int a = 1; a < argc; a++) {
		const char **dst = NULL;

		if (!strcmp(argv[a], "--socket"))
			dst = &opts.socket;
		else if (!strcmp(argv[a], "--config-dir"))
			dst = &opts.conf_dir;
		else if (!strcmp(argv[a], "--cni-path"))
			dst = &opts.cni_path;
		else if (!strcmp(argv[a], "--cache-dir"))
			dst = &opts.cache_dir;
		else if (!strcmp(argv[a], "--json")) {
			opts.json = true;
			continue;
		} else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			usage(stdout);
			return 0;
		}
		if (dst) {
			if (a + 1 >= argc)
				return ctl_fail("%s needs a value", argv[a]), EXIT_USAGE;
			*dst = argv[++a];
			continue;
		}
		args[n++] = argv[a];
	}
	if (!n)
		return usage(stderr), EXIT_USAGE;
	if (!strcmp(args[0], "status"))
		return cmd_status(n, args);
	if (!strcmp(args[0], "endpoints"))
		return cmd_endpoints(n, args);
	if (!strcmp(args[0], "network"))
		return cmd_network(n, args);
	if (!strcmp(args[0], "container"))
		return cmd_container(n, args);
	if (!strcmp(args[0], "topology"))
		return cmd_topology(n, args);
	if (!strcmp(args[0], "dns"))
		return cmd_dns(n, args);
	ctl_fail("unknown command '%s'", args[0]);
	return usage(stderr), EXIT_USAGE;
}
