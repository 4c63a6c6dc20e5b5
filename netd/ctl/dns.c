/* dns.c — `netdctl dns NAME --from CONTAINER [--type T]`: what that
 * container's resolver would answer for NAME, and why. netd decides it with
 * the lookup its resolver runs for a real query (GET /v1/dns); this file
 * only asks and prints. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "netd/httpc.h"

/* query-string escaping: names and container ids are plain, but a space or
 * '&' typed by a user must not change the question */
static void escape(char *out, size_t size, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s && n + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~:", c)) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = 0;
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* "a, b" from an array of strings or of objects' `key` (distinct) */
static void join(char *buf, size_t size, json_t *arr, const char *key)
{
	size_t i, len = 0;
	json_t *v;

	*buf = 0;
	json_array_foreach(arr, i, v) {
		const char *s = key ? str(v, key) : json_string_value(v);
		size_t k;
		json_t *w;

		if (!s || !*s)
			continue;
		for (k = 0; k < i; k++) {
			w = json_array_get(arr, k);
			if (!strcmp(key ? str(w, key) : json_string_value(w), s))
				break;
		}
		if (k < i)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", s);
		if (len >= size)
			break;
	}
}

/* from: the asking container, whose link a link alias is */
static void why(char *buf, size_t size, json_t *a, const char *from)
{
	const char *via = str(a, "via"), *who = str(a, "container"), *net = str(a, "network");

	if (!*who)
		who = str(a, "endpoint");
	if (!strcmp(via, "alias"))
		snprintf(buf, size, "alias \"%s\" of container %s on network %s", str(a, "alias"), who, net);
	else if (!strcmp(via, "link"))
		snprintf(buf, size, "link alias \"%s\" held by %s, for container %s on network %s", str(a, "alias"),
			 from, who, net);
	else if (!strcmp(via, "ptr"))
		snprintf(buf, size, "address of container %s on network %s", who, net);
	else
		snprintf(buf, size, "container name of %s on network %s", who, net);
	if (json_is_true(json_object_get(a, "qualified")))
		snprintf(buf + strlen(buf), size - strlen(buf), " (asked as NAME.%s)", net);
}

static bool on(json_t *j, const char *network)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(j, "networks"), i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), network))
			return true;
	return false;
}

static void print(json_t *j)
{
	const char *result = str(j, "result"), *from = str(j, "from");
	json_t *answers = json_object_get(j, "answers"), *a;
	char nets[512], buf[1024];
	size_t i, n = json_array_size(answers);

	join(nets, sizeof(nets), json_object_get(j, "networks"), NULL);
	printf("%s %s from %s (on %s): ", str(j, "name"), str(j, "type"), from, nets);
	if (!strcmp(result, "forward")) {
		join(buf, sizeof(buf), json_object_get(j, "upstreams"), NULL);
		printf("not a name of netd's, forwarded upstream to %s (%s)\n", *buf ? buf : "c-ares' defaults",
		       !strcmp(str(j, "upstreams_from"), "network") ? "the network's dns.nameservers"
								   : "the host's resolv.conf");
	} else if (!strcmp(result, "nxdomain")) {
		char links[512];

		json_t *held = json_array(), *bare = json_array();

		/* a network alone is a NAME.NETWORK; on one of the asker's own
		 * networks it means no container there has that name */
		json_array_foreach(json_object_get(j, "elsewhere"), i, a)
			if (json_object_get(a, "network"))
				json_array_append(*str(a, "container") || *str(a, "endpoint") ||
						  !on(j, str(a, "network")) ? held : bare, a);
		join(buf, sizeof(buf), held, "network");
		join(links, sizeof(links), json_object_get(j, "elsewhere"), "link_of");
		printf("NXDOMAIN:");
		if (*buf)
			printf(" it lives only on network %s, which %s is not on%s", buf, from, *links ? ";" : "");
		join(buf, sizeof(buf), bare, "network");
		if (*buf)
			printf(" no container on network %s has that name", buf);
		json_decref(held);
		json_decref(bare);
		if (*links && !strcmp(links, str(j, "container")))
			printf(" it is %s's own link alias, but the linked container is on none of its networks", from);
		else if (*links)
			printf(" it is a link alias held by %s, which only the linking container sees", links);
		putchar('\n');
	} else {
		printf("%s, %zu answer%s\n", str(j, "rcode"), n, n == 1 ? "" : "s");
	}
	if (n) {
		const char **cells = calloc((n + 1) * 4, sizeof(*cells));
		char (*whys)[256] = calloc(n, sizeof(*whys)), (*ttls)[16] = calloc(n, sizeof(*ttls));

		if (!cells || !whys || !ttls) {
			free(cells);
			free(whys);
			free(ttls);
			return;
		}
		cells[0] = "TYPE";
		cells[1] = "ANSWER";
		cells[2] = "TTL";
		cells[3] = "WHY";
		json_array_foreach(answers, i, a) {
			snprintf(ttls[i], sizeof(ttls[i]), "%lld", (long long)json_integer_value(json_object_get(a, "ttl")));
			why(whys[i], sizeof(whys[i]), a, str(j, "container"));
			cells[(i + 1) * 4] = str(a, "type");
			cells[(i + 1) * 4 + 1] = str(a, "data");
			cells[(i + 1) * 4 + 2] = ttls[i];
			cells[(i + 1) * 4 + 3] = whys[i];
		}
		ctl_table(cells, n + 1, 4);
		free(cells);
		free(whys);
		free(ttls);
	}
	json_array_foreach(json_object_get(j, "no_records"), i, a) {
		why(buf, sizeof(buf), a, str(j, "container"));
		printf("no %s address: %s, which has none\n", str(j, "type"), buf);
	}
	if (json_is_true(json_object_get(j, "restoring")))
		printf("note: netd's listener in %s is not back yet after netd's start (netdctl status: dnsRestoring): "
		       "the container gets no answer until it is\n", str(j, "netns"));
	else if (!json_is_true(json_object_get(j, "listening")))
		printf("note: netd has no listener in %s (its netns could not be entered, or netd was out of "
		       "descriptors: netd's /v1/status warnings say which): the container gets no answer at all\n",
		       str(j, "netns"));
}

int cmd_dns(int argc, char **argv)
{
	const char *name = NULL, *from = NULL, *type = NULL;
	char ename[1024], efrom[1024], etype[64], target[2200];
	struct netd_err err = {0};
	struct netd_http_resp r;
	json_t *j;
	int rc = 1;

	for (int a = 1; a < argc; a++) {
		/* given twice is a usage error: which asker was meant is a guess */
		if (!strcmp(argv[a], "--from") && a + 1 < argc && !from)
			from = argv[++a];
		else if ((!strcmp(argv[a], "--type") || !strcmp(argv[a], "-t")) && a + 1 < argc && !type)
			type = argv[++a];
		else if (argv[a][0] != '-' && !name)
			name = argv[a];
		else
			return ctl_fail("usage: netdctl dns NAME --from CONTAINER [--type A|AAAA|PTR|ANY]"), EXIT_USAGE;
	}
	if (!name || !from)
		return ctl_fail("usage: netdctl dns NAME --from CONTAINER [--type A|AAAA|PTR|ANY]"), EXIT_USAGE;
	escape(ename, sizeof(ename), name);
	escape(efrom, sizeof(efrom), from);
	escape(etype, sizeof(etype), type ? type : "");
	snprintf(target, sizeof(target), "/v1/dns?name=%s&from=%s%s%s", ename, efrom, type ? "&type=" : "", etype);
	if ((rc = netd_http_request(opts.socket, "GET", target, NULL, 10000, &r, &err)) < 0)
		return ctl_fail(netd_httpc_unreachable(rc) ? "netd is not running (%s)" : "%s", err.msg);
	rc = 1;
	j = json_loadb(r.body, r.len, 0, NULL);
	if (r.status != 200) {
		const char *e = json_string_value(json_object_get(j, "error"));

		ctl_fail("%s", e ? e : "netd answered with an error");
	} else if (!json_is_object(j)) {
		ctl_fail("GET /v1/dns: not a JSON object");
	} else {
		if (opts.json) {
			char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

			puts(s ? s : "null");
			free(s);
		} else {
			print(j);
		}
		rc = 0;
	}
	json_decref(j);
	netd_http_resp_free(&r);
	return rc;
}
