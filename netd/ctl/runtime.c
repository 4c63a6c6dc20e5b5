/* runtime.c — `netdctl container ...`: the runtime role, like cnitool.
 *
 * ADD runs every plugin of each network's conflist in order, feeding each
 * one's result to the next as prevResult; the final result is cached under
 * <cache-dir>/<container>/<network>.json together with the exact config,
 * ifname and runtime args used, because DEL and CHECK must send the plugins
 * the same things again even if the conflist changed since. DEL runs the
 * chain in reverse with the cached result as prevResult (what podman does)
 * and keeps going after errors.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "netd/cni.h"
#include "netd/httpc.h"
#include "netd/portmap.h"
#include "netd/util.h"

extern char **environ;

/* One container on one network. */
struct att {
	const char *container;
	const char *netns;
	char ifname[16];
	const char *network;
	json_t *conflist;	/* borrowed */
	json_t *rtconf;		/* capability values: portMappings, aliases */
	const char *cni_args;
};

static char *env_kv(const char *k, const char *v)
{
	char *s;

	return asprintf(&s, "%s=%s", k, v ? v : "") < 0 ? NULL : s;
}

/* Run one plugin of a's chain with CNI_COMMAND=cmd, conf on stdin, through
 * the library's one way of running a plugin. On ADD, *result gets the JSON
 * object it printed. A plugin's error becomes err, its CNI code kept. */
static int run_plugin(const struct att *a, const char *cmd, json_t *conf, json_t **result, struct netd_err *err)
{
	const char *type = json_string_value(json_object_get(conf, "type"));
	const char *vars[][2] = {{"CNI_COMMAND", cmd},		{"CNI_CONTAINERID", a->container},
				 {"CNI_NETNS", a->netns},	{"CNI_IFNAME", a->ifname},
				 {"CNI_PATH", opts.cni_path},	{"CNI_ARGS", a->cni_args}};
	size_t n_env = 0, n_ours = sizeof(vars) / sizeof(vars[0]), first;
	struct netd_err e = {0};
	char **env;
	int rc = 0;

	if (result)
		*result = NULL;
	while (environ[n_env])
		n_env++;
	if (!(env = calloc(n_env + n_ours + 1, sizeof(*env))))
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	n_env = 0;
	/* our CNI_* replace whatever the caller's environment had */
	for (char **v = environ; *v; v++)
		if (strncmp(*v, "CNI_", 4))
			env[n_env++] = *v;
	first = n_env;
	for (size_t i = 0; i < n_ours; i++)
		if (!(env[n_env++] = env_kv(vars[i][0], vars[i][1])))
			rc = netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	if (rc == 0 && (rc = cni_exec(opts.cni_path, type, env, conf, result, 0, &e)) < 0) {
		netd_err_set(err, rc, e.code, "network %s: %s (code %d)", a->network, e.msg, e.code);
		if (err && e.details[0])
			netd_err_details(err, "%s", e.details);
	}
	if (rc == 0 && result && !*result)
		rc = netd_err_set(err, -EPROTO, CNI_ERR_DECODE, "network %s: %s %s printed no result", a->network, type,
				  cmd);
	for (size_t i = first; i < n_env; i++)
		free(env[i]);
	free(env);
	return rc;
}

/* One plugin's config as the runtime sends it: cniVersion and name from the
 * conflist, runtimeConfig for the capabilities it declares, prevResult. */
static json_t *plugin_conf(const struct att *a, json_t *plugin, json_t *prev)
{
	json_t *c = json_deep_copy(plugin), *caps = json_object_get(plugin, "capabilities"), *rc = json_object();
	const char *k;
	json_t *v;

	json_object_set(c, "cniVersion", json_object_get(a->conflist, "cniVersion"));
	json_object_set(c, "name", json_object_get(a->conflist, "name"));
	json_object_foreach(caps, k, v)
		if (json_is_true(v) && json_object_get(a->rtconf, k))
			json_object_set(rc, k, json_object_get(a->rtconf, k));
	if (json_object_size(rc))
		json_object_set(c, "runtimeConfig", rc);
	json_decref(rc);
	if (prev)
		json_object_set(c, "prevResult", prev);
	return c;
}

static int chain_del(const struct att *a, json_t *prev, struct netd_err *err)
{
	json_t *plugins = json_object_get(a->conflist, "plugins");
	int rc = 0;

	for (size_t i = json_array_size(plugins); i-- > 0;) {
		json_t *c = plugin_conf(a, json_array_get(plugins, i), prev);
		struct netd_err e = {0};

		if (run_plugin(a, "DEL", c, NULL, &e) < 0) {
			fprintf(stderr, "netdctl: %s\n", e.msg);
			rc = netd_err_set(err, -EIO, e.code, "%s", e.msg);
		}
		json_decref(c);
	}
	return rc;
}

static int chain_add(const struct att *a, json_t **result, struct netd_err *err)
{
	json_t *plugins = json_object_get(a->conflist, "plugins"), *prev = NULL;
	size_t i;

	for (i = 0; i < json_array_size(plugins); i++) {
		json_t *c = plugin_conf(a, json_array_get(plugins, i), prev), *r;
		int rc = run_plugin(a, "ADD", c, &r, err);

		json_decref(c);
		if (rc < 0) {
			/* leave nothing behind: the whole chain's DEL, as a runtime would */
			chain_del(a, prev, NULL);
			json_decref(prev);
			return rc;
		}
		json_decref(prev);
		prev = r;
	}
	*result = prev;
	return 0;
}

static int chain_check(const struct att *a, json_t *prev, struct netd_err *err)
{
	json_t *plugins = json_object_get(a->conflist, "plugins");

	for (size_t i = 0; i < json_array_size(plugins); i++) {
		json_t *c = plugin_conf(a, json_array_get(plugins, i), prev);
		int rc = run_plugin(a, "CHECK", c, NULL, err);

		json_decref(c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- cache ---------------------------------------------------------------- */

static void cache_path(char *buf, size_t size, const char *container, const char *net)
{
	if (net)
		snprintf(buf, size, "%s/%s/%s.json", opts.cache_dir, container, net);
	else
		snprintf(buf, size, "%s/%s", opts.cache_dir, container);
}

static int cache_write(const struct att *a, json_t *result, bool netns_created)
{
	char path[4096], tmp[4200];
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:O, s:b}", "containerID", a->container, "netns",
			      a->netns, "ifname", a->ifname, "network", a->network, "conflist", a->conflist,
			      "runtimeConfig", a->rtconf, "cniArgs", a->cni_args, "result", result,
			      "netnsCreated", netns_created);
	int rc;

	cache_path(path, sizeof(path), a->container, NULL);
	if ((rc = netd_mkdir_p(path, 0700)) < 0) {
		json_decref(j);
		return ctl_fail("cannot create the result cache %s: %s", path, strerror(-rc));
	}
	cache_path(path, sizeof(path), a->container, a->network);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	rc = json_dump_file(j, tmp, JSON_INDENT(2));
	json_decref(j);
	if (rc < 0 || rename(tmp, path) < 0)
		return ctl_fail("cannot write the result cache %s", path);
	return 0;
}

/* Cached attachments of a container: array of cache objects. */
static json_t *cache_list(const char *container)
{
	char dir[4096];
	struct dirent **ents;
	json_t *out = json_array();
	int n;

	cache_path(dir, sizeof(dir), container, NULL);
	n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);

		if (ents[i]->d_name[0] != '.' && l > 5 && !strcmp(ents[i]->d_name + l - 5, ".json")) {
			char path[8192];
			json_t *j;

			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			if ((j = json_load_file(path, 0, NULL)) && json_is_object(json_object_get(j, "conflist")))
				json_array_append_new(out, j);
			else
				json_decref(j);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	return out;
}

static void att_from_cache(struct att *a, json_t *c)
{
	memset(a, 0, sizeof(*a));
	a->container = json_string_value(json_object_get(c, "containerID"));
	a->netns = json_string_value(json_object_get(c, "netns"));
	snprintf(a->ifname, sizeof(a->ifname), "%s", json_string_value(json_object_get(c, "ifname")) ?: "eth0");
	a->network = json_string_value(json_object_get(c, "network"));
	a->conflist = json_object_get(c, "conflist");
	a->rtconf = json_object_get(c, "runtimeConfig");
	a->cni_args = json_string_value(json_object_get(c, "cniArgs")) ?: "";
}

/* ---- netns ---------------------------------------------------------------- */

static int run_ip(const char *verb, const char *name)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execlp("ip", "ip", "netns", verb, name, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* ---- commands ------------------------------------------------------------- */

/* -p [IP:]HOST[-HOST2]:CONTAINER[-CONTAINER2][/PROTO]: appended to ports,
 * a range as one mapping per port. */
static int parse_port(const char *spec, json_t *ports)
{
	struct netd_portmap *v = NULL;
	struct netd_err err = {0};
	size_t n = 0;

	if (netd_portspec_parse(spec, &v, &n, &err) < 0) {
		ctl_fail("%s", err.msg);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_pack("{s:i, s:i, s:s}", "hostPort", v[i].host_port, "containerPort",
				      v[i].container_port, "protocol", netd_proto_name(v[i].proto));
		char ip[NETD_ADDR_STRLEN];

		if (v[i].host_ip.family)
			json_object_set_new(m, "hostIP", json_string(netd_addr_str(&v[i].host_ip, ip)));
		json_array_append_new(ports, m);
	}
	free(v);
	return 0;
}

static void print_ips(json_t *result, char *buf, size_t size)
{
	json_t *ip;
	size_t i;

	buf[0] = 0;
	json_array_foreach(json_object_get(result, "ips"), i, ip) {
		if (buf[0])
			strncat(buf, ",", size - strlen(buf) - 1);
		strncat(buf, json_string_value(json_object_get(ip, "address")) ?: "?", size - strlen(buf) - 1);
	}
	if (!buf[0])
		snprintf(buf, size, "-");
}

/* Like `docker run --link`: every linked container (NAME[:ALIAS], comma-
 * separated) must be one netd knows, by name or id, before anything is set
 * up. Without netd the chain fails anyway, saying so; this stays quiet. */
static int links_check(const char *links)
{
	struct netd_http_resp r;
	struct netd_err err = {0};
	char buf[1024], *save = NULL;
	json_t *eps;
	int rc = 0;

	if (!links[0] || netd_http_request(opts.socket, "GET", "/v1/endpoints", NULL, 10000, &r, &err) < 0)
		return 0;
	eps = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	netd_http_resp_free(&r);
	if (!json_is_array(eps)) {
		json_decref(eps);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", links);
	for (char *l = strtok_r(buf, ",", &save); l && !rc; l = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(l, ':');
		json_t *ep;
		size_t i;

		if (colon)
			*colon = 0;
		json_array_foreach(eps, i, ep)
			if (!strcmp(json_string_value(json_object_get(ep, "name")) ?: "", l) ||
			    !strcmp(json_string_value(json_object_get(ep, "containerID")) ?: "", l))
				break;
		if (i == json_array_size(eps))
			rc = ctl_fail("--link %s%s%s: no container '%s' is registered with netd (link to a running "
				      "container, by name or id)", l, colon ? ":" : "", colon ? colon + 1 : "", l);
	}
	json_decref(eps);
	return rc;
}

static int container_add(int argc, char **argv, json_t *ports, json_t *aliases)
{
	const char *name = NULL, *nets = NULL, *netns_opt = NULL;
	json_t *existing, *out, *added;
	char links[1024] = "", expose[512] = "", netns[4096], cni_args[2000], *netlist, *save = NULL;
	struct stat st;
	bool created = false;
	int rc = 0;

	for (int a = 2; a < argc; a++) {
		const char *o = argv[a];

		if ((!strcmp(o, "--net") || !strcmp(o, "--network")) && a + 1 < argc)
			nets = argv[++a];
		else if ((!strcmp(o, "-p") || !strcmp(o, "--publish")) && a + 1 < argc) {
			if (parse_port(argv[++a], ports) < 0)
				return EXIT_USAGE;
		} else if (!strcmp(o, "--alias") && a + 1 < argc) {
			if (!netd_name_valid(argv[++a]))
				return ctl_fail("invalid alias '%s'", argv[a]), EXIT_USAGE;
			json_array_append_new(aliases, json_string(argv[a]));
		} else if (!strcmp(o, "--link") && a + 1 < argc) {
			char l[200], *colon;

			snprintf(l, sizeof(l), "%s", argv[++a]);
			colon = strchr(l, ':');
			if (colon)
				*colon = 0;
			if (!netd_name_valid(l) || (colon && !netd_name_valid(colon + 1)))
				return ctl_fail("--link wants CONTAINER[:ALIAS], not '%s'", argv[a]), EXIT_USAGE;
			if (strlen(links) + strlen(argv[a]) + 2 >= sizeof(links))
				return ctl_fail("too many links"), EXIT_USAGE;
			if (links[0])
				strcat(links, ",");
			strcat(links, argv[a]);
		} else if (!strcmp(o, "--expose") && a + 1 < argc) {
			char e[32], *slash, *end;
			unsigned long port;

			snprintf(e, sizeof(e), "%s", argv[++a]);
			slash = strchr(e, '/');
			if (slash)
				*slash++ = 0;
			port = strtoul(e, &end, 10);
			if (!e[0] || *end || port < 1 || port > 65535 ||
			    (slash && strcmp(slash, "tcp") && strcmp(slash, "udp") && strcmp(slash, "sctp")))
				return ctl_fail("--expose wants PORT[/tcp|udp|sctp], not '%s'", argv[a]), EXIT_USAGE;
			if (strlen(expose) + strlen(argv[a]) + 2 >= sizeof(expose))
				return ctl_fail("too many exposed ports"), EXIT_USAGE;
			if (expose[0])
				strcat(expose, ",");
			strcat(expose, argv[a]);
		} else if (!strcmp(o, "--netns") && a + 1 < argc) {
			netns_opt = argv[++a];
		} else if (o[0] == '-' || name) {
			return ctl_fail("unexpected argument '%s'", o), EXIT_USAGE;
		} else {
			name = o;
		}
	}
	if (!name || !nets)
		return ctl_fail("usage: netdctl container add NAME --net A[,B] [-p H:C[/proto]] [--alias X] "
			    "[--link C[:ALIAS]] [--expose PORT[/proto]]"), EXIT_USAGE;
	if (!netd_name_valid(name))
		return ctl_fail("invalid container name '%s'", name), EXIT_USAGE;
	if (links_check(links))
		return 1;
	snprintf(cni_args, sizeof(cni_args), "IgnoreUnknown=1;K8S_POD_NAME=%s%s%s%s%s", name,
		 links[0] ? ";NETD_LINKS=" : "", links, expose[0] ? ";NETD_EXPOSE=" : "", expose);

	existing = cache_list(name);
	out = json_object();
	added = json_array();
	if (netns_opt) {
		snprintf(netns, sizeof(netns), "%s", netns_opt);
	} else {
		snprintf(netns, sizeof(netns), "/run/netns/%s", name);
		if (stat(netns, &st) < 0) {
			if (run_ip("add", name) < 0) {
				json_decref(existing);
				json_decref(out);
				json_decref(added);
				return ctl_fail("cannot create network namespace %s", name);
			}
			created = true;
		}
	}
	if (json_array_size(existing))
		created = json_is_true(json_object_get(json_array_get(existing, 0), "netnsCreated"));

	netlist = strdup(nets);
	for (char *net = strtok_r(netlist, ",", &save); net; net = strtok_r(NULL, ",", &save)) {
		struct netd_err err = {0};
		struct att a = {.container = name, .netns = netns, .network = net, .cni_args = cni_args};
		char path[4096];
		json_t *result = NULL;

		cache_path(path, sizeof(path), name, net);
		if (access(path, F_OK) == 0) {
			rc = ctl_fail("container '%s' is already on network '%s'", name, net);
			break;
		}
		if (ctl_conflist_load(net, &a.conflist, &err) < 0) {
			rc = ctl_fail("%s", err.msg);
			break;
		}
		/* first free ethN */
		for (int n = 0;; n++) {
			bool used = false;
			json_t *c;
			size_t i;

			snprintf(a.ifname, sizeof(a.ifname), "eth%d", n);
			json_array_foreach(existing, i, c)
				if (!strcmp(json_string_value(json_object_get(c, "ifname")) ?: "", a.ifname))
					used = true;
			if (!used)
				break;
		}
		a.rtconf = json_pack("{s:O, s:{s:O}}", "portMappings", ports, "aliases", net, aliases);
		if (chain_add(&a, &result, &err) < 0) {
			rc = ctl_fail("%s", err.msg);
		} else if (cache_write(&a, result, created) < 0) {
			chain_del(&a, result, NULL);
			rc = 1;
		} else {
			json_array_append_new(existing, json_pack("{s:s}", "ifname", a.ifname));
			json_array_append_new(added, json_string(net));
			json_object_set(out, net, result);
			if (!opts.json) {
				char ips[512];

				print_ips(result, ips, sizeof(ips));
				printf("%s\t%s\t%s\n", net, a.ifname, ips);
			}
		}
		json_decref(result);
		json_decref(a.rtconf);
		json_decref(a.conflist);
		if (rc)
			break;
	}
	free(netlist);
	if (rc) {
		/* all or nothing: undo the networks this call attached */
		json_t *n;
		size_t i;

		json_array_foreach(added, i, n) {
			char path[4096];
			json_t *c;
			struct att a;

			cache_path(path, sizeof(path), name, json_string_value(n));
			if ((c = json_load_file(path, 0, NULL))) {
				att_from_cache(&a, c);
				chain_del(&a, json_object_get(c, "result"), NULL);
				json_decref(c);
			}
			unlink(path);
		}
		cache_path(netns, sizeof(netns), name, NULL);
		if (rmdir(netns) == 0 && created)
			run_ip("delete", name);
		else if (created && !json_array_size(added) && json_array_size(existing) == 0)
			run_ip("delete", name);
	} else if (opts.json) {
		char *s = json_dumps(out, JSON_INDENT(2));

		puts(s);
		free(s);
	}
	json_decref(out);
	json_decref(added);
	json_decref(existing);
	return rc;
}

static int container_del(int argc, char **argv)
{
	const char *name = NULL, *only = NULL;
	json_t *list, *c;
	char dir[4096];
	bool created = false;
	size_t i;
	int rc = 0;

	for (int a = 2; a < argc; a++) {
		if ((!strcmp(argv[a], "--net") || !strcmp(argv[a], "--network")) && a + 1 < argc)
			only = argv[++a];
		else if (argv[a][0] == '-' || name)
			return ctl_fail("unexpected argument '%s'", argv[a]), EXIT_USAGE;
		else
			name = argv[a];
	}
	if (!name || !netd_name_valid(name))
		return ctl_fail("usage: netdctl container del NAME [--net NET]"), EXIT_USAGE;
	list = cache_list(name);
	if (!json_array_size(list)) {
		json_decref(list);
		return ctl_fail("no container '%s'", name);
	}
	json_array_foreach(list, i, c) {
		struct att a;
		struct netd_err err = {0};
		char path[4096];

		att_from_cache(&a, c);
		if (only && strcmp(only, a.network))
			continue;
		created |= json_is_true(json_object_get(c, "netnsCreated"));
		if (chain_del(&a, json_object_get(c, "result"), &err) < 0) {
			rc = 1; /* keep the cache so DEL can be retried */
			continue;
		}
		cache_path(path, sizeof(path), name, a.network);
		unlink(path);
		if (!opts.json)
			printf("%s\t%s\n", a.network, a.ifname);
	}
	json_decref(list);
	cache_path(dir, sizeof(dir), name, NULL);
	if (!rc && rmdir(dir) == 0 && created)
		run_ip("delete", name);
	return rc;
}

static int container_check(int argc, char **argv)
{
	json_t *list, *c;
	size_t i;
	int rc = 0;

	if (argc != 3 || !netd_name_valid(argv[2]))
		return ctl_fail("usage: netdctl container check NAME"), EXIT_USAGE;
	list = cache_list(argv[2]);
	if (!json_array_size(list)) {
		json_decref(list);
		return ctl_fail("no container '%s'", argv[2]);
	}
	json_array_foreach(list, i, c) {
		struct att a;
		struct netd_err err = {0};

		att_from_cache(&a, c);
		if (chain_check(&a, json_object_get(c, "result"), &err) < 0)
			rc = ctl_fail("%s", err.msg);
		else if (!opts.json)
			printf("%s\t%s\tok\n", a.network, a.ifname);
	}
	json_decref(list);
	return rc;
}

static int container_ls(void)
{
	struct dirent **ents;
	json_t *out = json_array();
	int n = scandir(opts.cache_dir, &ents, NULL, alphasort);
	const char **cells = calloc((n > 0 ? n : 0) * 8 + 4, sizeof(*cells));
	char **frees = calloc((n > 0 ? n : 0) * 2 + 1, sizeof(*frees));
	size_t rows = 1, nf = 0;

	cells[0] = "NAME";
	cells[1] = "NETNS";
	cells[2] = "NETWORKS";
	cells[3] = "IPS";
	for (int i = 0; i < n; i++) {
		json_t *list, *c, *entry;
		char nets[1024] = "", ips[2048] = "";
		size_t k;

		if (ents[i]->d_name[0] == '.' || !netd_name_valid(ents[i]->d_name) ||
		    !json_array_size(list = cache_list(ents[i]->d_name))) {
			free(ents[i]);
			continue;
		}
		entry = json_pack("{s:s, s:O, s:o}", "name", ents[i]->d_name, "netns",
				  json_object_get(json_array_get(list, 0), "netns"), "networks", json_object());
		json_array_foreach(list, k, c) {
			char one[512];
			const char *net = json_string_value(json_object_get(c, "network"));

			json_object_set_new(json_object_get(entry, "networks"), net,
					    json_pack("{s:O, s:O}", "ifname", json_object_get(c, "ifname"), "result",
						      json_object_get(c, "result")));
			print_ips(json_object_get(c, "result"), one, sizeof(one));
			snprintf(nets + strlen(nets), sizeof(nets) - strlen(nets), "%s%s", k ? "," : "", net);
			snprintf(ips + strlen(ips), sizeof(ips) - strlen(ips), "%s%s", k ? "," : "", one);
		}
		json_array_append_new(out, entry);
		cells[rows * 4] = frees[nf++] = strdup(ents[i]->d_name);
		cells[rows * 4 + 1] = json_string_value(json_object_get(entry, "netns"));
		cells[rows * 4 + 2] = frees[nf++] = strdup(nets);
		cells[rows * 4 + 3] = frees[nf++] = strdup(ips);
		rows++;
		json_decref(list);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	if (opts.json) {
		char *s = json_dumps(out, JSON_INDENT(2));

		puts(s);
		free(s);
	} else {
		ctl_table(cells, rows, 4);
	}
	for (size_t i = 0; i < nf; i++)
		free(frees[i]);
	free(frees);
	free(cells);
	json_decref(out);
	return 0;
}

int cmd_container(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add")) {
		json_t *ports = json_array(), *aliases = json_array();
		int rc = container_add(argc, argv, ports, aliases);

		json_decref(ports);
		json_decref(aliases);
		return rc;
	}
	if (argc >= 2 && (!strcmp(argv[1], "del") || !strcmp(argv[1], "rm")))
		return container_del(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return container_check(argc, argv);
	if (argc == 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")))
		return container_ls();
	ctl_fail("usage: netdctl container add|del|check|ls ...");
	return EXIT_USAGE;
}
