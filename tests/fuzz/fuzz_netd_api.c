/* libFuzzer target: netd's API with arbitrary request bodies.
 *
 * Input: first byte picks the request (method + path), the rest is the body.
 * The state is memory-only and is dropped every few thousand inputs so it
 * stays small. Any crash, leak or sanitizer report is a bug: the daemon must
 * answer every input with a status and a body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static const struct {
	const char *method, *path;
} routes[] = {
	{"POST", "/v1/endpoints"},
	{"POST", "/v1/networks"},
	{"GET", "/v1/endpoints"},
	{"GET", "/v1/networks"},
	{"GET", "/metrics"},
	{"DELETE", "/v1/endpoints/n:c:eth0"},
	{"GET", "/v1/endpoints/n:c:eth0"},
	{"DELETE", "/v1/networks/n"},
};

static struct netd_daemon d;
static unsigned long runs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_req req = {0};
	struct api_resp resp;
	unsigned r;

	if (!d.state || ++runs % 4096 == 0) {
		netd_state_free(d.state);
		netd_config_defaults(&d.cfg);
		if (netd_state_open(NULL, &d.state, NULL, NULL) < 0)
			abort();
	}
	if (!size)
		return 0;
	r = data[0] % (sizeof(routes) / sizeof(routes[0]));
	req.method = routes[r].method;
	req.path = routes[r].path;
	req.body = (const char *)data + 1;
	req.body_len = size - 1;
	/* a path made from the input too, for the name checks */
	if (data[0] >= 0xf0 && size > 1) {
		char path[300];
		size_t n = size - 1 < 200 ? size - 1 : 200;

		memcpy(path, "/v1/endpoints/", 14);
		memcpy(path + 14, data + 1, n);
		path[14 + n] = 0;
		req.path = path;
		req.method = data[0] & 1 ? "DELETE" : "GET";
		netd_api_handle(&d, &req, &resp);
	} else {
		netd_api_handle(&d, &req, &resp);
	}
	if (resp.status < 200 || resp.status > 599)
		abort();
	if (resp.status >= 400 && (!resp.body || strncmp(resp.body, "{\"error\":", 9)))
		abort();
	free(resp.body);
	return 0;
}
