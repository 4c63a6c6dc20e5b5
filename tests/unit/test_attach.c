/* attach: the main plugins' kit without a kernel: config helpers (mac, mtu,
 * ipam, dns), the undo stack, cni_invoke, and the IPAM step with netd-ipam
 * in-process on a store in a temporary directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/attach.h"
#include "netd/ipam.h"

/* A plugin whose ADD/DEL run `body` on the context the skeleton built. */
static int (*body)(struct cni_ctx *ctx);

static int handler(struct cni_ctx *ctx)
{
	int rc = body(ctx);

	if (rc == 0 && ctx->cmd == CNI_CMD_ADD && !ctx->result)
		ctx->result = cni_result_new();
	return rc;
}

static const struct cni_plugin kit = {.name = "netd-kit", .add = handler, .del = handler, .check = handler};

/* Run cmd with config and CNI_ARGS (NULL = none); returns the exit status,
 * *out (may be NULL) the JSON printed. */
static int run(const char *cmd, const char *config, const char *args, json_t **out)
{
	char cmdvar[64], argvar[256], *obuf = NULL;
	const char *env[] = {cmdvar, "CNI_CONTAINERID=c1", "CNI_NETNS=/proc/self/ns/net", "CNI_IFNAME=eth0",
			     "CNI_PATH=/nonexistent", args ? argvar : NULL, NULL};
	size_t olen = 0;
	FILE *in = fmemopen((void *)config, strlen(config), "r"), *o = open_memstream(&obuf, &olen);
	int rc;

	snprintf(cmdvar, sizeof(cmdvar), "CNI_COMMAND=%s", cmd);
	snprintf(argvar, sizeof(argvar), "CNI_ARGS=%s", args ? args : "");
	rc = cni_plugin_run(&kit, (char *const *)env, in, o);
	fclose(in);
	fclose(o);
	if (out)
		*out = json_loads(obuf, 0, NULL);
	free(obuf);
	return rc;
}

static int err_code(json_t *j)
{
	return (int)json_integer_value(json_object_get(j, "code"));
}

static const char *err_msg(json_t *j)
{
	return json_string_value(json_object_get(j, "msg"));
}

#define CONF(extra) "{\"cniVersion\":\"1.0.0\",\"name\":\"n1\",\"type\":\"netd-kit\"" extra "}"

/* ---- mac ---- */

static uint8_t got_mac[6];
static bool got_has;

static int do_mac(struct cni_ctx *ctx)
{
	return netd_conf_mac(ctx, got_mac, &got_has);
}

static void test_mac(void **state)
{
	json_t *j = NULL;

	(void)state;
	body = do_mac;
	assert_int_equal(run("ADD", CONF(""), NULL, NULL), 0);
	assert_false(got_has);
	/* runtimeConfig first, then CNI_ARGS, then args.cni */
	assert_int_equal(run("ADD", CONF(",\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:01\"},"
					 "\"args\":{\"cni\":{\"mac\":\"02:00:00:00:00:03\"}}"),
			     "MAC=02:00:00:00:00:02", NULL), 0);
	assert_true(got_has);
	assert_int_equal(got_mac[5], 1);
	assert_int_equal(run("ADD", CONF(",\"args\":{\"cni\":{\"mac\":\"02:00:00:00:00:03\"}}"),
			     "MAC=02:00:00:00:00:02", NULL), 0);
	assert_int_equal(got_mac[5], 2);
	assert_int_equal(run("ADD", CONF(",\"args\":{\"cni\":{\"mac\":\"02:00:00:00:00:03\"}}"), NULL, NULL), 0);
	assert_int_equal(got_mac[5], 3);
	/* one set of rules, wherever the MAC comes from */
	assert_int_equal(run("ADD", CONF(""), "MAC=zz:zz", &j), 1);
	assert_int_equal(err_code(j), 7);
	assert_non_null(strstr(err_msg(j), "does not parse"));
	json_decref(j);
	assert_int_equal(run("ADD", CONF(",\"runtimeConfig\":{\"mac\":\"03:00:00:00:00:01\"}"), NULL, &j), 1);
	assert_int_equal(err_code(j), 7);
	assert_non_null(strstr(err_msg(j), "multicast"));
	json_decref(j);
	assert_int_equal(run("ADD", CONF(""), "MAC=00:00:00:00:00:00", &j), 1);
	assert_non_null(strstr(err_msg(j), "all zeros"));
	json_decref(j);
}

/* ---- mtu, ipam, dns ---- */

static int got_mtu;
static char got_type[32];	/* "" = none */
static struct cni_result *got_dns;

static int do_mtu(struct cni_ctx *ctx)
{
	return netd_conf_mtu(ctx, &got_mtu);
}

static int do_ipam(struct cni_ctx *ctx)
{
	const char *type;
	int rc = netd_conf_ipam(ctx, &type);

	snprintf(got_type, sizeof(got_type), "%s", rc == 0 && type ? type : "");
	return rc;
}

static int do_dns(struct cni_ctx *ctx)
{
	cni_result_free(got_dns);
	got_dns = NULL;
	return netd_conf_dns(ctx, &got_dns);
}

static void test_mtu_ipam_dns(void **state)
{
	json_t *j = NULL;

	(void)state;
	body = do_mtu;
	got_mtu = -1;
	assert_int_equal(run("ADD", CONF(""), NULL, NULL), 0);
	assert_int_equal(got_mtu, 0);
	assert_int_equal(run("ADD", CONF(",\"mtu\":1400"), NULL, NULL), 0);
	assert_int_equal(got_mtu, 1400);
	assert_int_equal(run("ADD", CONF(",\"mtu\":50"), NULL, &j), 1);
	assert_non_null(strstr(err_msg(j), "below the minimum of 68"));
	json_decref(j);
	assert_int_equal(run("ADD", CONF(",\"mtu\":\"big\""), NULL, &j), 1);
	assert_int_equal(err_code(j), 7);
	json_decref(j);

	body = do_ipam;
	assert_int_equal(run("ADD", CONF(""), NULL, NULL), 0);
	assert_string_equal(got_type, "");
	assert_int_equal(run("ADD", CONF(",\"ipam\":{}"), NULL, NULL), 0);
	assert_string_equal(got_type, "");
	assert_int_equal(run("ADD", CONF(",\"ipam\":{\"subnet\":\"10.0.0.0/24\"}"), NULL, &j), 1);
	assert_non_null(strstr(err_msg(j), "no 'type'"));
	json_decref(j);
	assert_int_equal(run("ADD", CONF(",\"ipam\":{\"type\":\"netd-ipam\"}"), NULL, &j), 1);
	assert_non_null(strstr(err_msg(j), "unknown IPAM type 'netd-ipam'"));
	json_decref(j);
	/* DEL does not look for the binary: it may have gone */
	assert_int_equal(run("DEL", CONF(",\"ipam\":{\"type\":\"netd-ipam\"}"), NULL, NULL), 0);
	assert_string_equal(got_type, "netd-ipam");

	body = do_dns;
	assert_int_equal(run("ADD", CONF(""), NULL, NULL), 0);
	assert_null(got_dns);
	assert_int_equal(run("ADD", CONF(",\"dns\":{}"), NULL, NULL), 0);
	assert_null(got_dns);
	assert_int_equal(run("ADD", CONF(",\"dns\":{\"nameservers\":[\"192.0.2.53\"],\"domain\":\"example.org\"}"),
			     NULL, NULL), 0);
	assert_non_null(got_dns);
	assert_int_equal(got_dns->dns.n_nameservers, 1);
	assert_string_equal(got_dns->dns.nameservers[0], "192.0.2.53");
	assert_string_equal(got_dns->dns.domain, "example.org");
	assert_int_equal(run("ADD", CONF(",\"dns\":{\"search\":\"example.org\"}"), NULL, &j), 1);
	assert_int_equal(err_code(j), 7);
	assert_non_null(strstr(err_msg(j), "field 'dns': dns.search must be a list of strings"));
	json_decref(j);
	assert_int_equal(run("ADD", CONF(",\"dns\":[]"), NULL, &j), 1);
	assert_int_equal(err_code(j), 7);
	json_decref(j);
	cni_result_free(got_dns);
	got_dns = NULL;
}

/* ---- the undo stack ---- */

static char order[16];

static void undo_note(struct netd_attach *a, void *data)
{
	(void)a;
	strncat(order, data, sizeof(order) - strlen(order) - 1);
}

static int end_rc;

static int do_undo(struct cni_ctx *ctx)
{
	struct netd_attach a;
	int rc;

	order[0] = '\0';
	if ((rc = netd_attach_begin(&a, ctx, NULL, 0)) < 0)
		return rc;
	assert_int_equal(netd_attach_undo_push(&a, undo_note, "1", 2), 0);
	assert_int_equal(netd_attach_undo_push(&a, undo_note, "2", 2), 0);
	assert_int_equal(netd_attach_undo_push(&a, undo_note, "3", 2), 0);
	if (end_rc < 0)
		netd_err_set(&ctx->err, end_rc, NETD_ERR_KERNEL, "step 4 failed");
	return netd_attach_end(&a, end_rc);
}

static void test_undo_reverse_only_on_failure(void **state)
{
	json_t *j = NULL;

	(void)state;
	body = do_undo;
	end_rc = 0;
	assert_int_equal(run("ADD", CONF(""), NULL, NULL), 0);
	assert_string_equal(order, "");
	end_rc = -EIO;
	assert_int_equal(run("ADD", CONF(""), NULL, &j), 1);
	assert_string_equal(order, "321");
	/* the ADD's own error survives the undo */
	assert_int_equal(err_code(j), NETD_ERR_KERNEL);
	assert_string_equal(err_msg(j), "step 4 failed");
	json_decref(j);
}

/* ---- DEL keeps going; CHECK's start ---- */

static int n_fail;	/* DEL: how many of three steps fail */
static int steps_run;

static int do_del(struct cni_ctx *ctx)
{
	struct netd_attach a;
	int rc;

	steps_run = 0;
	if ((rc = netd_attach_del_begin(&a, ctx, NULL, NETD_ATTACH_CTR_IF_THERE, NULL)) < 0)
		return rc;
	for (int i = 1; i <= 3; i++) {
		steps_run++;
		if (i > 3 - n_fail) {
			netd_err_set(&ctx->err, -EIO, NETD_ERR_KERNEL, "step %d failed", i);
			netd_attach_collect(&a);
		}
	}
	return netd_attach_del_end(&a);
}

static void test_del_keeps_going(void **state)
{
	json_t *j = NULL;

	(void)state;
	body = do_del;
	n_fail = 0;
	assert_int_equal(run("DEL", CONF(""), NULL, NULL), 0);
	assert_int_equal(steps_run, 3);
	/* every step runs; the first failure is the one reported */
	n_fail = 2;
	assert_int_equal(run("DEL", CONF(""), NULL, &j), 1);
	assert_int_equal(steps_run, 3);
	assert_int_equal(err_code(j), NETD_ERR_KERNEL);
	assert_string_equal(err_msg(j), "step 2 failed");
	json_decref(j);
}

static int do_check(struct cni_ctx *ctx)
{
	struct netd_attach a;
	struct netd_link l;
	int rc;

	if ((rc = netd_attach_check_begin(&a, ctx, NULL, NETD_ATTACH_CTR, &l)) < 0)
		return rc;
	return netd_attach_end(&a, 0);
}

static void test_check_begin(void **state)
{
	json_t *j = NULL;

	(void)state;
	body = do_check;
	assert_int_equal(run("CHECK", CONF(""), NULL, &j), 1);
	assert_int_equal(err_code(j), 7);
	assert_non_null(strstr(err_msg(j), "CHECK needs prevResult"));
	json_decref(j);
	/* prevResult without a sandbox interface of that name is drift, seen
	 * before the netns is looked at */
	assert_int_equal(run("CHECK", CONF(",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":"
					   "[{\"name\":\"eth1\",\"sandbox\":\"/proc/self/ns/net\"}]}"),
			     NULL, &j),
			 1);
	assert_int_equal(err_code(j), NETD_ERR_DRIFT);
	assert_non_null(strstr(err_msg(j), "prevResult has no interface eth0 in a sandbox"));
	json_decref(j);
}

/* ---- cni_invoke ---- */

static int inner_add(struct cni_ctx *ctx)
{
	if (!strcmp(ctx->container_id, "bad"))
		return netd_err_set(&ctx->err, -ENOSPC, NETD_ERR_IPAM_FULL, "no room");
	ctx->result = cni_result_new();
	ctx->unchanged = !strcmp(ctx->container_id, "again");
	return 0;
}

static const struct cni_plugin inner = {.name = "inner", .add = inner_add};

static void test_invoke(void **state)
{
	struct cni_ctx ctx = {.cmd = CNI_CMD_DEL, .container_id = "c1", .ifname = "eth0"};
	struct cni_result *r = NULL;
	struct netd_err err = {0};

	(void)state;
	assert_int_equal(cni_invoke(&ctx, &inner, CNI_CMD_ADD, &r, &err), 0);
	assert_non_null(r);
	cni_result_free(r);
	assert_int_equal(ctx.cmd, CNI_CMD_DEL);	/* the caller's context is not changed */
	ctx.container_id = "again";
	assert_int_equal(cni_invoke(&ctx, &inner, CNI_CMD_ADD, &r, &err), 1);
	cni_result_free(r);
	ctx.container_id = "bad";
	assert_int_equal(cni_invoke(&ctx, &inner, CNI_CMD_ADD, &r, &err), -ENOSPC);
	assert_null(r);
	assert_int_equal(err.code, NETD_ERR_IPAM_FULL);
	assert_string_equal(err.msg, "inner ADD: no room");
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_invoke(&ctx, &inner, CNI_CMD_CHECK, NULL, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "does not implement CHECK"));
}

/* ---- the IPAM step, netd-ipam in-process ---- */

static char tmpdir[64], conf[512];
static bool fail_after_ipam;

static int do_ipam_add(struct cni_ctx *ctx)
{
	struct netd_attach a;
	int rc;

	if ((rc = netd_attach_begin(&a, ctx, NULL, 0)) < 0)
		return rc;
	if ((rc = netd_attach_ipam_add(&a, "netd-ipam")) == 0 && fail_after_ipam)
		rc = netd_err_set(&ctx->err, -EIO, NETD_ERR_KERNEL, "later step failed");
	if (rc == 0)
		ctx->result = cni_result_dup(a.ipam);
	return netd_attach_end(&a, rc);
}

static bool lease(const char *addr)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/n1/%s", tmpdir, addr);
	return access(path, F_OK) == 0;
}

static void test_ipam_step(void **state)
{
	json_t *j = NULL;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_attach.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(conf, sizeof(conf), CONF(",\"ipam\":{\"type\":\"netd-ipam\",\"subnet\":\"10.9.0.0/24\",\"dataDir\":\"%s\"}"),
		 tmpdir);
	body = do_ipam_add;
	/* a later step fails: the reservation this ADD made is released */
	fail_after_ipam = true;
	assert_int_equal(run("ADD", conf, NULL, &j), 1);
	assert_string_equal(err_msg(j), "later step failed");
	json_decref(j);
	assert_false(lease("10.9.0.2"));
	/* it succeeds; a repeat of the same attachment is refused (102) and the
	 * address it already held is not released, even when it fails */
	fail_after_ipam = false;
	assert_int_equal(run("ADD", conf, NULL, &j), 0);
	/* (the next address: allocation goes round the range, as host-local's) */
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "ips"), 0), "address")),
			    "10.9.0.3/24");
	json_decref(j);
	fail_after_ipam = true;
	assert_int_equal(run("ADD", conf, NULL, &j), 1);
	assert_int_equal(err_code(j), NETD_ERR_IN_USE);
	assert_non_null(strstr(err_msg(j), "container c1 is already attached to network n1 as eth0"));
	json_decref(j);
	assert_true(lease("10.9.0.3"));
	fail_after_ipam = false;
	assert_int_equal(run("ADD", conf, NULL, &j), 1);
	assert_int_equal(err_code(j), NETD_ERR_IN_USE);
	json_decref(j);
	assert_true(lease("10.9.0.3"));
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_mtu_ipam_dns),
		cmocka_unit_test(test_undo_reverse_only_on_failure),
		cmocka_unit_test(test_del_keeps_going),
		cmocka_unit_test(test_check_begin),
		cmocka_unit_test(test_invoke),
		cmocka_unit_test(test_ipam_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
