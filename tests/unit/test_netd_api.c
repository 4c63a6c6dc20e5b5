/* netd's API as a function: every answer a client can see, and the state it
 * leaves on disk (reloaded on restart; test_netd_state.c has the journal). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "daemon.h"

static struct netd_daemon *new_daemon(const char *dir)
{
	struct netd_daemon *d = calloc(1, sizeof(*d));
	struct netd_err err = {0};

	netd_config_defaults(&d->cfg);
	assert_int_equal(netd_state_open(dir, &d->state, NULL, &err), 0);
	return d;
}

static void free_daemon(struct netd_daemon *d)
{
	netd_state_free(d->state);
	free(d);
}

/* Do one request; returns the status and leaves the body in *body (freed by
 * the next call). */
static char *last_body;
static const char *last_allow;

static int req(struct netd_daemon *d, const char *method, const char *path, const char *body)
{
	struct api_req r = {.method = method, .path = path, .body = body, .body_len = body ? strlen(body) : 0};
	struct api_resp resp;
	char *q = NULL, tmp[512];

	if (strchr(path, '?')) {
		snprintf(tmp, sizeof(tmp), "%s", path);
		q = strchr(tmp, '?');
		*q = 0;
		r.path = tmp;
		r.q_network = q + strlen("?network=");
	}
	netd_api_handle(d, &r, &resp);
	if (getenv("DEBUG_API"))
		fprintf(stderr, "%s %s -> %d %s\n", method, path, resp.status, resp.body ? resp.body : "");
	free(last_body);
	last_body = resp.body;
	last_allow = resp.allow;
	return resp.status;
}

static json_t *body_json(void)
{
	json_t *j = json_loads(last_body, 0, NULL);

	assert_non_null(j);
	return j;
}

static void assert_error_mentions(const char *what)
{
	json_t *j = body_json();
	const char *msg = json_string_value(json_object_get(j, "error"));

	assert_non_null(msg);
	if (!strstr(msg, what))
		fail_msg("error '%s' does not mention '%s'", msg, what);
	json_decref(j);
}

#define EP(extra) "{\"containerID\":\"c1\",\"network\":\"net1\",\"netns\":\"/proc/self/ns/net\"" extra "}"

/* GET /v1/dns: the API finds the asker and hands its netns to the resolver
 * (netd/dns.c, exercised end to end in tests/integration/dns.bats) */
static char explained[256];

static int explain_hook(struct netd_daemon *d, const char *view, const char *name, const char *type, json_t **out,
			struct netd_err *err)
{
	(void)d;
	if (type && strcmp(type, "A"))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "type: '%s' is not A", type);
	snprintf(explained, sizeof(explained), "%s %s", view, name);
	*out = json_pack("{s:s}", "name", name);
	return 0;
}

static int dns_req(struct netd_daemon *d, const char *method, const char *name, const char *from, const char *type)
{
	struct api_req r = {.method = method, .path = "/v1/dns", .q_name = name, .q_from = from, .q_type = type};
	struct api_resp resp;

	netd_api_handle(d, &r, &resp);
	free(last_body);
	last_body = resp.body;
	return resp.status;
}

static void dns_lookup_api(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);
	json_t *j;

	assert_int_equal(req(d, "POST", "/v1/endpoints", EP(",\"name\":\"web\"")), 201);
	assert_int_equal(req(d, "POST", "/v1/endpoints",
			     "{\"containerID\":\"c1\",\"network\":\"net2\",\"netns\":\"/proc/self/ns/net\"}"), 201);
	/* no resolver in this process */
	assert_int_equal(dns_req(d, "GET", "db", "web", NULL), 503);
	d->dns_explain = explain_hook;
	assert_int_equal(dns_req(d, "GET", "db", "web", NULL), 200);
	assert_string_equal(explained, "/proc/self/ns/net db");
	j = body_json();
	assert_string_equal(json_string_value(json_object_get(j, "container_id")), "c1");
	assert_string_equal(json_string_value(json_object_get(j, "netns")), "/proc/self/ns/net");
	/* both networks of the container, once each */
	assert_int_equal(json_array_size(json_object_get(j, "networks")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "networks"), 1)), "net2");
	json_decref(j);
	/* by container id and by endpoint id too */
	assert_int_equal(dns_req(d, "GET", "db", "c1", NULL), 200);
	assert_int_equal(dns_req(d, "GET", "db", "net2:c1:eth0", "A"), 200);
	/* bad input */
	assert_int_equal(dns_req(d, "GET", "db", "ghost", NULL), 404);
	assert_error_mentions("no container 'ghost'");
	assert_int_equal(dns_req(d, "GET", NULL, "web", NULL), 400);
	assert_error_mentions("name= is required");
	assert_int_equal(dns_req(d, "GET", "db", "", NULL), 400);
	assert_error_mentions("from= is required");
	assert_int_equal(dns_req(d, "GET", "db", "web", "MX"), 400);
	assert_error_mentions("'MX'");
	assert_int_equal(dns_req(d, "DELETE", "db", "web", NULL), 405);
	/* a name two containers in different netns answer to */
	assert_int_equal(req(d, "POST", "/v1/endpoints",
			     "{\"containerID\":\"c2\",\"name\":\"web\",\"network\":\"net1\",\"netns\":\"/proc/thread-self/ns/net\"}"),
			 201);
	assert_int_equal(dns_req(d, "GET", "db", "web", NULL), 409);
	assert_error_mentions("more than one netns");
	assert_int_equal(dns_req(d, "GET", "db", "c2", NULL), 200);
	assert_string_equal(explained, "/proc/thread-self/ns/net db");
	free_daemon(d);
}

static void register_inspect_list_delete(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);
	json_t *j;

	assert_int_equal(req(d, "POST", "/v1/endpoints",
			     EP(",\"name\":\"web\",\"ips\":[\"10.1.0.2/24\",\"fd00::2/64\"],\"mac\":\"02:00:00:00:00:01\","
				"\"aliases\":[\"www\"],\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,"
				"\"protocol\":\"tcp\"}],\"links\":[{\"name\":\"db\",\"alias\":\"database\"}]")), 201);
	j = body_json();
	assert_string_equal(json_string_value(json_object_get(j, "id")), "net1:c1:eth0");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "web");
	assert_int_equal(json_array_size(json_object_get(j, "ips")), 2);
	json_decref(j);
	/* registering again replaces, and says so with 200 */
	assert_int_equal(req(d, "POST", "/v1/endpoints", EP("")), 200);
	assert_int_equal(req(d, "GET", "/v1/endpoints/net1:c1:eth0", NULL), 200);
	j = body_json();
	assert_int_equal(json_array_size(json_object_get(j, "ips")), 0);
	json_decref(j);

	assert_int_equal(req(d, "POST", "/v1/endpoints",
			     "{\"containerID\":\"c2\",\"network\":\"net2\",\"netns\":\"/proc/self/ns/net\",\"ifname\":\"eth1\"}"), 201);
	assert_int_equal(req(d, "GET", "/v1/endpoints", NULL), 200);
	j = body_json();
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	assert_int_equal(req(d, "GET", "/v1/endpoints?network=net2", NULL), 200);
	j = body_json();
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "id")), "net2:c2:eth1");
	json_decref(j);

	/* networks appear implicitly, with their endpoint count */
	assert_int_equal(req(d, "GET", "/v1/networks/net1", NULL), 200);
	j = body_json();
	assert_int_equal(json_integer_value(json_object_get(j, "endpoints")), 1);
	assert_true(json_is_true(json_object_get(j, "implicit")));
	json_decref(j);
	assert_int_equal(req(d, "DELETE", "/v1/networks/net1", NULL), 409);

	assert_int_equal(req(d, "DELETE", "/v1/endpoints/net1:c1:eth0", NULL), 204);
	assert_int_equal(req(d, "DELETE", "/v1/endpoints/net1:c1:eth0", NULL), 204); /* idempotent */
	assert_int_equal(req(d, "GET", "/v1/endpoints/net1:c1:eth0", NULL), 404);
	assert_int_equal(req(d, "DELETE", "/v1/networks/net1", NULL), 204);
	assert_int_equal(req(d, "GET", "/v1/networks/net1", NULL), 404);
	free_daemon(d);
}

static void networks_api(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);
	json_t *j;

	assert_int_equal(req(d, "POST", "/v1/networks",
			     "{\"name\":\"blue\",\"driver\":\"bridge\",\"subnets\":[\"10.5.0.0/24\"],"
			     "\"options\":{\"mtu\":\"1400\"}}"), 201);
	assert_int_equal(req(d, "POST", "/v1/networks", "{\"name\":\"blue\"}"), 409);
	assert_int_equal(req(d, "POST", "/v1/networks", "{\"name\":\"a\",\"subnets\":[\"10.0.0.0/33\"]}"), 400);
	assert_error_mentions("subnets[0]");
	assert_int_equal(req(d, "POST", "/v1/networks", "{\"name\":\"a\",\"options\":{\"x\":1}}"), 400);
	assert_int_equal(req(d, "GET", "/v1/networks", NULL), 200);
	j = body_json();
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "driver")), "bridge");
	json_decref(j);
	/* an implicit network (from an endpoint) can be made explicit */
	assert_int_equal(req(d, "POST", "/v1/endpoints",
			     "{\"containerID\":\"c\",\"network\":\"red\",\"netns\":\"/proc/self/ns/net\"}"), 201);
	assert_int_equal(req(d, "POST", "/v1/networks", "{\"name\":\"red\",\"driver\":\"macvlan\"}"), 201);
	j = body_json();
	assert_int_equal(json_integer_value(json_object_get(j, "endpoints")), 1);
	assert_false(json_is_true(json_object_get(j, "implicit")));
	json_decref(j);
	free_daemon(d);
}

static void bad_input(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);
	static const struct {
		const char *body, *mentions;
	} cases[] = {
		{"", "empty"},
		{"{", "malformed JSON"},
		{"[1,2]", "JSON object"},
		{"\"x\"", "JSON object"},
		{"{\"containerID\":\"c\",\"containerID\":\"d\",\"network\":\"n\",\"netns\":\"/x\"}", "malformed"},
		{"{\"network\":\"n\",\"netns\":\"/x\"}", "containerID"},
		{"{\"containerID\":5,\"network\":\"n\",\"netns\":\"/x\"}", "containerID"},
		{"{\"containerID\":\"c\",\"network\":\"../etc\",\"netns\":\"/x\"}", "network"},
		{"{\"containerID\":\"c\",\"network\":\"a/b\",\"netns\":\"/x\"}", "network"},
		{"{\"containerID\":\"../../x\",\"network\":\"n\",\"netns\":\"/x\"}", "containerID"},
		{"{\"containerID\":\"c\",\"network\":\"n\",\"netns\":\"relative\"}", "netns"},
		{"{\"containerID\":\"c\",\"network\":\"n\",\"netns\":\"/a/../b\"}", "netns"},
		{"{\"containerID\":\"c\",\"network\":\"n\"}", "netns"},
		{EP(",\"bogus\":1"), "unknown field 'bogus'"},
		{EP(",\"id\":\"x\""), "set by netd"},
		{EP(",\"ifname\":\"a/b\""), "ifname"},
		{EP(",\"ifname\":\"0123456789abcdef\""), "ifname"},
		{EP(",\"ifname\":\"..\""), "ifname"},
		{EP(",\"ips\":\"10.0.0.1/24\""), "ips"},
		{EP(",\"ips\":[\"10.0.0.1\"]"), "ips[0]"},
		{EP(",\"ips\":[\"300.0.0.1/24\"]"), "ips[0]"},
		{EP(",\"ips\":[7]"), "ips[0]"},
		{EP(",\"mac\":\"zz:00:00:00:00:00\""), "mac"},
		{EP(",\"aliases\":[\"ok\",\"-bad\"]"), "aliases[1]"},
		{EP(",\"aliases\":{}"), "aliases"},
		{EP(",\"portMappings\":[{\"hostPort\":0,\"containerPort\":80}]"), "hostPort"},
		{EP(",\"portMappings\":[{\"hostPort\":80,\"containerPort\":70000}]"), "containerPort"},
		{EP(",\"portMappings\":[{\"hostPort\":\"80\",\"containerPort\":80}]"), "hostPort"},
		{EP(",\"portMappings\":[{\"hostPort\":80,\"containerPort\":80,\"protocol\":\"icmp\"}]"), "protocol"},
		{EP(",\"portMappings\":[{\"hostPort\":80,\"containerPort\":80,\"hostIP\":\"x\"}]"), "hostIP"},
		{EP(",\"portMappings\":[{\"hostPort\":80,\"containerPort\":80,\"x\":1}]"), "unknown field"},
		{EP(",\"links\":[\"db\"]"), "links[0]"},
		{EP(",\"links\":[{\"alias\":\"x\"}]"), "name"},
		{EP(",\"name\":\"a b\""), "name"},
		{EP(",\"name\":null"), "name"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = req(d, "POST", "/v1/endpoints", cases[i].body);

		if (st != 400)
			fail_msg("case %zu (%s): status %d, want 400", i, cases[i].body, st);
		assert_error_mentions(cases[i].mentions);
	}
	/* a NUL inside a string must not be truncated into a valid name */
	{
		const char b[] = "{\"containerID\":\"c\\u0000x\",\"network\":\"n\",\"netns\":\"/x\"}";

		assert_int_equal(req(d, "POST", "/v1/endpoints", b), 400);
	}
	assert_int_equal(d->state->n_eps, 0);
	assert_int_equal(d->state->n_nets, 0);
	free_daemon(d);
}

static void paths_and_methods(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);

	assert_int_equal(req(d, "GET", "/", NULL), 404);
	assert_int_equal(req(d, "GET", "/v2/endpoints", NULL), 404);
	assert_int_equal(req(d, "GET", "/v1/networks/a/b", NULL), 404);
	assert_int_equal(req(d, "GET", "/v1/networks/..", NULL), 400);
	assert_int_equal(req(d, "GET", "/v1/networks/.hidden", NULL), 400);
	assert_int_equal(req(d, "GET", "/v1/endpoints/nocolons", NULL), 400);
	assert_int_equal(req(d, "GET", "/v1/endpoints/n:c:..", NULL), 400);
	assert_int_equal(req(d, "GET", "/v1/endpoints/n:c:eth0", NULL), 404);
	/* found by the fuzzer: a path that is not UTF-8 still gets a JSON error */
	assert_int_equal(req(d, "GET", "/v1/endpoints/n:\xff\x12/../x", NULL), 404);
	assert_error_mentions("no such resource");
	assert_int_equal(req(d, "PUT", "/v1/endpoints", "{}"), 405);
	assert_string_equal(last_allow, "GET, HEAD, POST");
	assert_int_equal(req(d, "POST", "/v1/status", "{}"), 405);
	assert_string_equal(last_allow, "GET, HEAD");
	assert_int_equal(req(d, "PATCH", "/v1/networks/x", "{}"), 405);
	assert_int_equal(req(d, "DELETE", "/metrics", NULL), 405);
	assert_int_equal(req(d, "GET", "/v1/status", NULL), 200);
	assert_int_equal(req(d, "GET", "/metrics", NULL), 200);
	assert_non_null(strstr(last_body, "netd_endpoints 0\n"));
	assert_non_null(strstr(last_body, "netd_api_requests_total{code=\"405\"} 4\n"));
	assert_non_null(strstr(last_body, "netd_api_requests_total{code=\"404\"} 5\n"));
	free_daemon(d);
}

static char dir[64];

static void persisted_and_reloaded(void **state)
{
	struct netd_daemon *d;
	char path[256], body[512];
	struct stat st;
	size_t dropped;
	struct netd_err err = {0};
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/netd-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	d = new_daemon(dir);
	assert_int_equal(req(d, "POST", "/v1/networks", "{\"name\":\"n1\",\"subnets\":[\"10.9.0.0/16\"]}"), 201);
	assert_int_equal(req(d, "POST", "/v1/endpoints", "{\"containerID\":\"live\",\"network\":\"n1\","
			     "\"netns\":\"/proc/self/ns/net\",\"aliases\":[\"a\"]}"), 201);
	/* "gone" names a netns that disappears before the restart */
	snprintf(path, sizeof(path), "%s/gone-ns", dir);
	assert_int_equal(symlink("/proc/self/ns/net", path), 0);
	snprintf(body, sizeof(body), "{\"containerID\":\"gone\",\"network\":\"n1\",\"netns\":\"%s\"}", path);
	assert_int_equal(req(d, "POST", "/v1/endpoints", body), 201);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(req(d, "POST", "/v1/endpoints", "{\"containerID\":\"deleted\",\"network\":\"n2\","
			     "\"netns\":\"/proc/self/ns/net\"}"), 201);
	assert_int_equal(req(d, "DELETE", "/v1/endpoints/n2:deleted:eth0", NULL), 204);
	snprintf(path, sizeof(path), "%s/endpoints.0000000001.log", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/networks/n1.json", dir);
	assert_int_equal(stat(path, &st), 0);
	free_daemon(d);

	/* junk a crash or a person may leave behind must not stop the load */
	snprintf(path, sizeof(path), "%s/.endpoints.0000000001.snap.tmp", dir);
	f = fopen(path, "w");
	fputs("{\"containerID\":", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/networks/garbage.json", dir);
	f = fopen(path, "w");
	fputs("not json", f);
	fclose(f);

	d = calloc(1, sizeof(*d));
	netd_config_defaults(&d->cfg);
	assert_int_equal(netd_state_open(dir, &d->state, &dropped, &err), 0);
	assert_int_equal(dropped, 1); /* "gone": its netns does not exist */
	assert_int_equal(d->state->n_eps, 1);
	assert_int_equal(req(d, "GET", "/v1/endpoints/n1:live:eth0", NULL), 200);
	assert_int_equal(req(d, "GET", "/v1/endpoints/n1:gone:eth0", NULL), 404);
	assert_int_equal(req(d, "GET", "/v1/networks/n1", NULL), 200);
	assert_non_null(strstr(last_body, "10.9.0.0/16"));
	assert_int_equal(req(d, "GET", "/v1/networks/n2", NULL), 200); /* implicit, kept */
	assert_int_equal(req(d, "GET", "/v1/endpoints/n2:deleted:eth0", NULL), 404);
	assert_int_equal(d->state->n_warnings, 1); /* networks/garbage.json */
	snprintf(path, sizeof(path), "%s/.endpoints.0000000001.snap.tmp", dir);
	assert_int_not_equal(stat(path, &st), 0);
	free_daemon(d);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* netns must name a network namespace, now: anything else is 400 and stores nothing */
static void netns_must_be_a_netns(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);
	char tmp[] = "/tmp/netd-test-XXXXXX", fifo[64], body[512];
	static const struct {
		const char *netns, *msg;
	} cases[] = {
		{"/nonexistent/netns", "netns /nonexistent/netns: No such file or directory"},
		{"/proc/self/ns/net\\u0001", "control characters"},
		{"/run/netns/a\\nb", "control characters"},
		{"/tmp", "netns /tmp is not a network namespace"},
		{"/dev/null", "netns /dev/null is not a network namespace"},
		{"/proc/self/ns/mnt", "/proc/self/ns/mnt is not a network namespace"},
		{"/proc/self/ns/uts", "/proc/self/ns/uts is not a network namespace"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{\"containerID\":\"c\",\"network\":\"n\",\"netns\":\"%s\"}",
			 cases[i].netns);
		assert_int_equal(req(d, "POST", "/v1/endpoints", body), 400);
		if (!strstr(last_body, cases[i].msg))
			fail_msg("netns %s: %s", cases[i].netns, last_body);
	}
	/* a FIFO is refused without being opened (open would block) */
	assert_non_null(mkdtemp(tmp));
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(body, sizeof(body), "{\"containerID\":\"c\",\"network\":\"n\",\"netns\":\"%s\"}", fifo);
	assert_int_equal(req(d, "POST", "/v1/endpoints", body), 400);
	assert_non_null(strstr(last_body, "is not a network namespace"));
	unlink(fifo);
	rmdir(tmp);
	assert_int_equal(d->state->n_eps, 0);
	assert_int_equal(d->state->n_nets, 0);
	assert_int_equal(req(d, "POST", "/v1/endpoints",
			     "{\"containerID\":\"c\",\"network\":\"n\",\"netns\":\"/proc/self/ns/net\"}"), 201);
	free_daemon(d);
}

/* A container that died without a DEL: its netns path is gone; reaping drops
 * its endpoints, every one of them, and nothing else. */
static void reap_drops_only_gone(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);
	char tmp[] = "/tmp/netd-test-XXXXXX", ns[64], body[512];

	(void)state;
	assert_non_null(mkdtemp(tmp));
	snprintf(ns, sizeof(ns), "%s/ns", tmp);
	assert_int_equal(symlink("/proc/self/ns/net", ns), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "{\"containerID\":\"dead\",\"network\":\"n%d\",\"netns\":\"%s\"}", i, ns);
		assert_int_equal(req(d, "POST", "/v1/endpoints", body), 201);
	}
	assert_int_equal(req(d, "POST", "/v1/endpoints",
			     "{\"containerID\":\"live\",\"network\":\"n0\",\"netns\":\"/proc/self/ns/net\"}"), 201);
	assert_int_equal(netd_api_reap_gone(d), 0);
	assert_int_equal(unlink(ns), 0);
	assert_int_equal(netd_api_reap_gone(d), 2);
	assert_int_equal(req(d, "GET", "/v1/endpoints/n0:dead:eth0", NULL), 404);
	assert_int_equal(req(d, "GET", "/v1/endpoints/n1:dead:eth0", NULL), 404);
	assert_int_equal(req(d, "GET", "/v1/endpoints/n0:live:eth0", NULL), 200);
	assert_int_equal(netd_api_reap_gone(d), 0);
	rmdir(tmp);
	free_daemon(d);
}

static void many_endpoints(void **state)
{
	struct netd_daemon *d = new_daemon(NULL);
	char body[256], path[128];

	for (int i = 0; i < 5000; i++) {
		snprintf(body, sizeof(body), "{\"containerID\":\"c%d\",\"network\":\"n%d\",\"netns\":\"/proc/self/ns/net\"}", i,
			 i % 7);
		assert_int_equal(req(d, "POST", "/v1/endpoints", body), 201);
	}
	assert_int_equal(d->state->n_eps, 5000);
	assert_int_equal(d->state->n_nets, 7);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(path, sizeof(path), "/v1/endpoints/n%d:c%d:eth0", i % 7, i);
		assert_int_equal(req(d, "DELETE", path, NULL), 204);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/v1/endpoints/n%d:c%d:eth0", i % 7, i);
		assert_int_equal(req(d, "GET", path, NULL), i % 2 ? 200 : 404);
	}
	assert_int_equal(d->state->n_eps, 2500);
	free_daemon(d);
}

static void config_file(void **state)
{
	struct netd_config c;
	struct netd_err err = {0};
	char path[] = "/tmp/netd-conf-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs("# netd\nsocket = /run/x/netd.sock\nstate_dir=\"/var/lib/x\"\n\nlog_level = debug\n"
	      "allow_uids = 1000, 1001\nallow_gids = 27\n", f);
	fclose(f);
	netd_config_defaults(&c);
	assert_string_equal(c.socket, NETD_DEFAULT_SOCKET);
	assert_int_equal(netd_config_load(&c, path, &err), 0);
	assert_string_equal(c.socket, "/run/x/netd.sock");
	assert_string_equal(c.state_dir, "/var/lib/x");
	assert_int_equal(c.log_level, 7);
	assert_true(netd_config_peer_allowed(&c, 0, 0));
	assert_true(netd_config_peer_allowed(&c, 1001, 5));
	assert_true(netd_config_peer_allowed(&c, 5, 27));
	assert_false(netd_config_peer_allowed(&c, 5, 5));

	f = fopen(path, "w");
	fputs("socket = /a\nfrobnicate = yes\n", f);
	fclose(f);
	assert_int_equal(netd_config_load(&c, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, ":2"));
	assert_non_null(strstr(err.msg, "frobnicate"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_config_set(&c, "allow_uids", "root", &err), -EINVAL);
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_config_set(&c, "socket", "relative.sock", &err), -EINVAL);
	memset(&err, 0, sizeof(err));
	/* the resolver's cache: on by default, 0 turns it off, a number of entries */
	assert_int_equal(c.dns_cache, NETD_DNS_CACHE_DEFAULT);
	assert_int_equal(netd_config_set(&c, "dns_cache", "0", &err), 0);
	assert_int_equal(c.dns_cache, 0);
	assert_int_equal(netd_config_set(&c, "dns_cache", "100000", &err), 0);
	assert_int_equal(c.dns_cache, 100000);
	assert_int_equal(netd_config_set(&c, "dns_cache", "lots", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "dns_cache"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(netd_config_load(&c, "/nonexistent/netd.conf", &err), -ENOENT);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_inspect_list_delete),
		cmocka_unit_test(dns_lookup_api),
		cmocka_unit_test(networks_api),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(paths_and_methods),
		cmocka_unit_test(persisted_and_reloaded),
		cmocka_unit_test(netns_must_be_a_netns),
		cmocka_unit_test(reap_drops_only_gone),
		cmocka_unit_test(many_endpoints),
		cmocka_unit_test(config_file),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	free(last_body);
	return rc;
}
