/* netd-api-bench — endpoint register + unregister round trips against a
 * running netd, and bulk registration for memory measurements.
 *
 *   netd-api-bench SOCKET keepalive N [FIRST]  POST+DELETE on one connection
 *   netd-api-bench SOCKET connect N [FIRST]    a new connection per request (as plugins do)
 *   netd-api-bench SOCKET plugin N PATH        exec netd-endpoint ADD then DEL
 *   netd-api-bench SOCKET fill N [FIRST]       register N endpoints and leave them
 *
 * Endpoint i is benchnet:bench<i>:eth0, i from FIRST (default 0).
 *
 * Prints "median_us p99_us" for the round trip modes. bench/netd-api.sh
 * drives it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netd/httpc.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void body(char *buf, size_t size, int i)
{
	snprintf(buf, size, "{\"containerID\":\"bench%07d\",\"name\":\"c%d\",\"network\":\"benchnet\","
		 "\"netns\":\"/proc/self/ns/net\",\"ifname\":\"eth0\",\"ips\":[\"10.%d.%d.%d/8\"],"
		 "\"mac\":\"02:00:00:00:00:01\",\"aliases\":[\"svc%d\"],"
		 "\"portMappings\":[{\"hostPort\":%d,\"containerPort\":80,\"protocol\":\"tcp\"}],\"links\":[]}",
		 i, i, (i >> 16) & 255, (i >> 8) & 255, i & 255, i % 10, 1024 + i % 64000); /* a host port each */
}

static int check(int rc, const struct netd_http_resp *r, int want1, int want2, const struct netd_err *e)
{
	if (rc < 0) {
		fprintf(stderr, "request failed: %s\n", e->msg);
		exit(1);
	}
	if (r->status != want1 && r->status != want2) {
		fprintf(stderr, "unexpected HTTP %d: %s\n", r->status, r->body);
		exit(1);
	}
	return 0;
}

static int run_plugin(const char *plugin, const char *cmd, const char *sock, int i)
{
	char conf[2048], cid[64];
	int in[2], status;
	pid_t pid;

	snprintf(cid, sizeof(cid), "bench%07d", i);
	snprintf(conf, sizeof(conf), "{\"cniVersion\":\"1.0.0\",\"name\":\"benchnet\",\"type\":\"netd-endpoint\","
		 "\"socket\":\"%s\",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\","
		 "\"mac\":\"02:00:00:00:00:01\",\"sandbox\":\"/proc/self/ns/net\"}],\"ips\":[{\"address\":"
		 "\"10.0.0.2/8\",\"interface\":0}]}}", sock);
	if (pipe(in) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		close(in[1]);
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		setenv("CNI_COMMAND", cmd, 1);
		setenv("CNI_CONTAINERID", cid, 1);
		setenv("CNI_NETNS", "/proc/self/ns/net", 1);
		setenv("CNI_IFNAME", "eth0", 1);
		setenv("CNI_PATH", "/nonexistent", 1);
		execl(plugin, plugin, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	if (write(in[1], conf, strlen(conf)) < 0)
		perror("write");
	close(in[1]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *sock, *mode;
	struct netd_httpc *c = NULL;
	struct netd_http_resp r;
	struct netd_err e = {0};
	char b[1024], target[128];
	double *t;
	int n, first = 0;

	if (argc < 4)
		return fprintf(stderr, "usage: see bench/netd-api.c\n"), 2;
	sock = argv[1];
	mode = argv[2];
	n = atoi(argv[3]);
	if (argc > 4 && strcmp(mode, "plugin"))
		first = atoi(argv[4]);
	t = calloc(n > 0 ? n : 1, sizeof(*t));
	if (!strcmp(mode, "keepalive") || !strcmp(mode, "fill")) {
		if (netd_httpc_open(sock, 10000, &c, &e) < 0)
			return fprintf(stderr, "%s\n", e.msg), 1;
	}
	for (int i = 0; i < n; i++) {
		double t0 = now_us();

		body(b, sizeof(b), first + i);
		snprintf(target, sizeof(target), "/v1/endpoints/benchnet:bench%07d:eth0", first + i);
		if (!strcmp(mode, "fill")) {
			check(netd_httpc_do(c, "POST", "/v1/endpoints", b, &r, &e), &r, 201, 200, &e);
			netd_http_resp_free(&r);
			continue;
		} else if (!strcmp(mode, "keepalive")) {
			check(netd_httpc_do(c, "POST", "/v1/endpoints", b, &r, &e), &r, 201, 200, &e);
			netd_http_resp_free(&r);
			check(netd_httpc_do(c, "DELETE", target, NULL, &r, &e), &r, 204, 204, &e);
			netd_http_resp_free(&r);
		} else if (!strcmp(mode, "connect")) {
			check(netd_http_request(sock, "POST", "/v1/endpoints", b, 10000, &r, &e), &r, 201, 200, &e);
			netd_http_resp_free(&r);
			check(netd_http_request(sock, "DELETE", target, NULL, 10000, &r, &e), &r, 204, 204, &e);
			netd_http_resp_free(&r);
		} else if (!strcmp(mode, "plugin") && argc > 4) {
			if (run_plugin(argv[4], "ADD", sock, i) < 0 || run_plugin(argv[4], "DEL", sock, i) < 0)
				return fprintf(stderr, "plugin failed\n"), 1;
		} else {
			return fprintf(stderr, "unknown mode %s\n", mode), 2;
		}
		t[i] = now_us() - t0;
	}
	netd_httpc_close(c);
	if (strcmp(mode, "fill")) {
		qsort(t, n, sizeof(*t), cmp);
		printf("%.0f %.0f\n", t[n / 2], t[(int)(n * 0.99)]);
	}
	free(t);
	return 0;
}
