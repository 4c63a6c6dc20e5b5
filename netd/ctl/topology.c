/* topology.c — `netdctl topology --dot`: what netd knows (GET /v1/networks
 * and GET /v1/endpoints) drawn as a Graphviz graph. Networks are ellipses,
 * containers boxes joined to each network by their interface and addresses;
 * published ports are edges from a "host" node, links dotted edges between
 * containers. Nothing here reads the host: the picture is netd's view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "netd/httpc.h"

/* GET target from netd as JSON; NULL after saying why. */
static json_t *get(const char *target)
{
	struct netd_err err = {0};
	struct netd_http_resp r;
	json_t *j = NULL;

	if (netd_http_request(opts.socket, "GET", target, NULL, 10000, &r, &err) < 0) {
		ctl_fail("netd is not reachable (%s)", err.msg);
		return NULL;
	}
	if (r.status == 200)
		j = json_loadb(r.body, r.len, 0, NULL);
	if (!json_is_array(j)) {
		ctl_fail("GET %s: status %d, not a JSON array", target, r.status);
		json_decref(j);
		j = NULL;
	}
	netd_http_resp_free(&r);
	return j;
}

/* s as a DOT quoted string: container IDs come from runtimes and may hold
 * anything, so quotes and backslashes are escaped and other control bytes
 * dropped. */
static void q(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '\n') {
			fputs("\\n", stdout); /* a line break in a label */
			continue;
		}
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* A container's node id and label: its name, else its container ID. */
static const char *who(json_t *ep)
{
	return *str(ep, "name") ? str(ep, "name") : str(ep, "containerID");
}

static void node_id(const char *kind, const char *name)
{
	char *s = malloc(strlen(kind) + strlen(name) + 2);

	sprintf(s, "%s:%s", kind, name);
	q(s);
	free(s);
}

/* "a\nb\nc" from an array of strings, appended to buf after sep */
static void join(char *buf, size_t size, json_t *arr, const char *sep)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		if (json_is_string(e)) {
			strncat(buf, sep, size - strlen(buf) - 1);
			strncat(buf, json_string_value(e), size - strlen(buf) - 1);
		}
	}
}

static void networks(json_t *nets, json_t *eps)
{
	json_t *drawn = json_object(), *n;
	size_t i;

	json_array_foreach(nets, i, n) {
		char label[1024];

		snprintf(label, sizeof(label), "%s\n%s", str(n, "name"), str(n, "driver"));
		join(label, sizeof(label), json_object_get(n, "subnets"), "\n");
		printf("  ");
		node_id("net", str(n, "name"));
		printf(" [shape=ellipse, style=filled, fillcolor=\"#dbe9f6\", label=");
		q(label);
		printf("];\n");
		json_object_set_new(drawn, str(n, "name"), json_true());
	}
	/* a network netd has endpoints on but no record of (a conflist written
	 * while netd was down) still gets its node */
	json_array_foreach(eps, i, n) {
		const char *net = str(n, "network");

		if (*net && !json_object_get(drawn, net)) {
			printf("  ");
			node_id("net", net);
			printf(" [shape=ellipse, style=filled, fillcolor=\"#dbe9f6\", label=");
			q(net);
			printf("];\n");
			json_object_set_new(drawn, net, json_true());
		}
	}
	json_decref(drawn);
}

/* A container's mappings ([hostIP, proto, hostPort, containerPort], in the
 * order given), one per line; a run that goes up by one on both sides is one
 * line, as -p wrote it ("8000-8010->80-90/tcp"), so a range of thousands of
 * ports stays one line. What does not fit is counted, not cut. */
static void port_label(json_t *list, char *out, size_t size)
{
	size_t n = json_array_size(list), i = 0, left = 0;

	out[0] = 0;
	while (i < n) {
		json_t *a = json_array_get(list, i);
		const char *ip = json_string_value(json_array_get(a, 0)), *proto = json_string_value(json_array_get(a, 1));
		json_int_t h0 = json_integer_value(json_array_get(a, 2)), c0 = json_integer_value(json_array_get(a, 3));
		size_t j = i + 1;
		char m[160];

		for (; j < n; j++) {
			json_t *b = json_array_get(list, j);

			if (strcmp(json_string_value(json_array_get(b, 0)), ip) ||
			    strcmp(json_string_value(json_array_get(b, 1)), proto) ||
			    json_integer_value(json_array_get(b, 2)) != h0 + (json_int_t)(j - i) ||
			    json_integer_value(json_array_get(b, 3)) != c0 + (json_int_t)(j - i))
				break;
		}
		if (j - i > 1)
			snprintf(m, sizeof(m), "%s%s%lld-%lld->%lld-%lld/%s", ip, *ip ? ":" : "", (long long)h0,
				 (long long)(h0 + (json_int_t)(j - i - 1)), (long long)c0,
				 (long long)(c0 + (json_int_t)(j - i - 1)), proto);
		else
			snprintf(m, sizeof(m), "%s%s%lld->%lld/%s", ip, *ip ? ":" : "", (long long)h0, (long long)c0,
				 proto);
		i = j;
		if (left || strlen(out) + strlen(m) + 40 >= size) {
			left++;
			continue;
		}
		if (*out)
			strcat(out, "\n");
		strcat(out, m);
	}
	if (left)
		snprintf(out + strlen(out), size - strlen(out), "\n(%zu more)", left);
}

/* One box per container, one edge per endpoint, ports from the host node
 * (once per container: each of its endpoints carries the same mappings). */
static void containers(json_t *eps)
{
	json_t *seen = json_object(), *ports = json_object(), *e, *p;
	bool host = false;
	size_t i, k;

	json_array_foreach(eps, i, e) {
		if (!json_object_get(seen, who(e))) {
			printf("  ");
			node_id("ctr", who(e));
			printf(" [shape=box, style=\"rounded,filled\", fillcolor=\"#fdf1d6\", label=");
			q(who(e));
			printf("];\n");
			json_object_set_new(seen, who(e), json_true());
		}
		char label[1024];

		snprintf(label, sizeof(label), "%s", str(e, "ifname"));
		join(label, sizeof(label), json_object_get(e, "ips"), "\n");
		printf("  ");
		node_id("ctr", who(e));
		printf(" -- ");
		node_id("net", str(e, "network"));
		printf(" [label=");
		q(label);
		printf("];\n");
		json_array_foreach(json_object_get(e, "portMappings"), k, p) {
			char m[160];
			const char *ip = str(p, "hostIP"), *proto = str(p, "protocol");
			json_int_t hp = json_integer_value(json_object_get(p, "hostPort"));
			json_int_t cp = json_integer_value(json_object_get(p, "containerPort"));
			json_t *set;

			/* once per container: each of its endpoints carries the same */
			snprintf(m, sizeof(m), "%s %s %lld %lld", ip, proto, (long long)hp, (long long)cp);
			if (!(set = json_object_get(ports, who(e))))
				json_object_set_new(ports, who(e), set = json_pack("{s:{}, s:[]}", "seen", "list"));
			if (json_object_get(json_object_get(set, "seen"), m))
				continue;
			json_object_set_new(json_object_get(set, "seen"), m, json_true());
			json_array_append_new(json_object_get(set, "list"),
					      json_pack("[s, s, I, I]", ip, *proto ? proto : "tcp", hp, cp));
			host = true;
		}
	}
	if (host)
		printf("  \"host\" [shape=box3d, label=\"host\"];\n");
	{
		const char *c;
		json_t *set;

		json_object_foreach(ports, c, set) {
			char label[1024] = "";

			port_label(json_object_get(set, "list"), label, sizeof(label));
			printf("  \"host\" -- ");
			node_id("ctr", c);
			printf(" [style=bold, color=\"#b3541e\", fontcolor=\"#b3541e\", label=");
			q(label);
			printf("];\n");
		}
	}
	/* links to containers netd knows; the target resolves by name */
	json_t *linked = json_object();

	json_array_foreach(eps, i, e) {
		json_array_foreach(json_object_get(e, "links"), k, p) {
			const char *to = str(p, "name"), *alias = str(p, "alias");
			char key[600];

			snprintf(key, sizeof(key), "%s\n%s\n%s", who(e), to, alias);
			if (!json_object_get(seen, to) || json_object_get(linked, key))
				continue;
			json_object_set_new(linked, key, json_true());
			printf("  ");
			node_id("ctr", who(e));
			printf(" -- ");
			node_id("ctr", to);
			printf(" [style=dotted, dir=forward, label=");
			q(*alias ? alias : to);
			printf("];\n");
		}
	}
	json_decref(linked);
	json_decref(ports);
	json_decref(seen);
}

int cmd_topology(int argc, char **argv)
{
	json_t *nets, *eps;

	for (int a = 1; a < argc; a++)
		if (strcmp(argv[a], "--dot"))
			return ctl_fail("topology: unknown option '%s' (only --dot)", argv[a]), EXIT_USAGE;
	if (!(nets = get("/v1/networks")))
		return 1;
	if (!(eps = get("/v1/endpoints"))) {
		json_decref(nets);
		return 1;
	}
	printf("graph netd {\n"
	       "  graph [rankdir=LR, fontname=\"sans-serif\", nodesep=0.4];\n"
	       "  node [fontname=\"sans-serif\", fontsize=11];\n"
	       "  edge [fontname=\"sans-serif\", fontsize=9];\n");
	networks(nets, eps);
	containers(eps);
	printf("}\n");
	json_decref(eps);
	json_decref(nets);
	return 0;
}
