/* libFuzzer: arbitrary bytes as a plugin's stdin. The skeleton must answer
 * every input with exactly one JSON object (a result or an error carrying a
 * code), never crash, and the IPAM config parser must reject or accept
 * without touching memory it does not own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/cni.h"
#include "netd/ipam.h"

static int fake_add(struct cni_ctx *ctx)
{
	struct netd_ipam_conf *c = NULL;

	/* the pure part of netd-ipam: every config field is parsed and checked */
	if (netd_ipam_conf_parse(ctx->config, &c, &ctx->err) < 0)
		return -1;
	netd_ipam_conf_free(c);
	ctx->result = ctx->prev ? cni_result_dup(ctx->prev) : cni_result_new();
	return 0;
}

static const struct cni_plugin fake = {.name = "netd-fuzz", .add = fake_add};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const env[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=fuzz", "CNI_NETNS=/proc/self/ns/net",
				    "CNI_IFNAME=eth0", NULL};
	char *obuf = NULL;
	size_t olen = 0;
	FILE *in, *out;
	json_t *j;
	int rc;

	if (size == 0)
		return 0;
	in = fmemopen((void *)data, size, "r");
	out = open_memstream(&obuf, &olen);
	if (!in || !out)
		abort();
	rc = cni_plugin_run(&fake, env, in, out);
	fclose(in);
	fclose(out);
	j = json_loadb(obuf, olen, 0, NULL);
	if (!json_is_object(j))
		abort(); /* stdout must be one JSON object */
	if (rc != 0 && !json_is_integer(json_object_get(j, "code")))
		abort(); /* an error must carry its code */
	json_decref(j);
	free(obuf);
	return 0;
}
