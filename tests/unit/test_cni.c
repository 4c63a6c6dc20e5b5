/* CNI protocol: versions, result conversion, the skeleton's error handling. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "netd/cni.h"
#include "netd/log.h"
#include "netd/util.h"

/* ---- a fake plugin that records what the skeleton handed it ---- */

static int add_calls, del_calls;
static struct cni_result *seen_prev;

static int fake_add(struct cni_ctx *ctx)
{
	struct cni_iface f = {0};
	struct cni_ip ip = {.iface = 0};

	add_calls++;
	log_info("fake ADD of %s", ctx->container_id);
	ctx->result = ctx->prev ? cni_result_dup(ctx->prev) : cni_result_new();
	strcpy(f.name, ctx->ifname);
	strcpy(f.sandbox, ctx->netns);
	ip.iface = cni_result_add_iface(ctx->result, &f);
	netd_prefix_parse("10.1.0.5/24", &ip.address);
	netd_addr_parse("10.1.0.1", &ip.gateway);
	cni_result_add_ip(ctx->result, &ip);
	return 0;
}

static int fake_del(struct cni_ctx *ctx)
{
	del_calls++;
	if (ctx->prev) {
		cni_result_free(seen_prev);
		seen_prev = cni_result_dup(ctx->prev);
	}
	return 0;
}

static int fake_check(struct cni_ctx *ctx)
{
	return netd_err_set(&ctx->err, -EINVAL, NETD_ERR_DRIFT, "drift found");
}

static const struct cni_plugin fake = {
	.name = "netd-fake", .add = fake_add, .del = fake_del, .check = fake_check,
};

/* Run the fake plugin in-process; returns exit status, *out gets parsed stdout. */
static int run(const char *const *env, const char *stdin_text, size_t stdin_len, json_t **out)
{
	char *obuf = NULL;
	size_t olen = 0;
	FILE *in = fmemopen((void *)stdin_text, stdin_len ? stdin_len : 1, "r");
	FILE *o = open_memstream(&obuf, &olen);
	int rc;

	if (!stdin_len) { /* fmemopen refuses size 0: read past the only byte */
		fgetc(in);
	}
	rc = cni_plugin_run(&fake, (char *const *)env, in, o);
	fclose(in);
	fclose(o);
	*out = olen ? json_loads(obuf, 0, NULL) : NULL;
	/* exactly one JSON object on stdout, or nothing */
	if (olen) {
		assert_non_null(*out);
		assert_true(json_is_object(*out));
	}
	free(obuf);
	return rc;
}

static int run_str(const char *const *env, const char *s, json_t **out)
{
	return run(env, s, strlen(s), out);
}

static const char *add_env[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=abc123", "CNI_NETNS=/proc/self/ns/net",
				"CNI_IFNAME=eth0", "CNI_PATH=/nonexistent", NULL};
static const char *conf_100 = "{\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"type\":\"netd-fake\"}";

static void assert_error(json_t *j, int code, const char *version, const char *needle)
{
	const char *msg;

	assert_non_null(j);
	/* every error object says what went wrong */
	msg = json_string_value(json_object_get(j, "msg"));
	assert_non_null(msg);
	assert_true(msg[0]);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), code);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), version);
	if (needle && !strstr(json_string_value(json_object_get(j, "msg")), needle))
		fail_msg("message '%s' lacks '%s'", json_string_value(json_object_get(j, "msg")), needle);
	json_decref(j);
}

/* The run with env and config conf fails (exit status 1) with that error object. */
#define assert_refused(env, conf, code, version, needle)                                            \
	do {                                                                                        \
		json_t *j_;                                                                         \
		assert_int_equal(run_str(env, conf, &j_), 1);                                       \
		assert_error(j_, code, version, needle);                                            \
	} while (0)

static void test_version_cmp(void **state)
{
	assert_true(cni_version_cmp("0.4.0", "1.0.0") < 0);
	assert_true(cni_version_cmp("1.1.0", "1.0.0") > 0);
	assert_int_equal(cni_version_cmp("0.3.1", "0.3.1"), 0);
	assert_true(cni_version_cmp("0.10.0", "0.9.0") > 0);
	assert_true(cni_version_cmp("garbage", "0.1.0") < 0);
	assert_true(cni_version_supported("0.3.0"));
	assert_true(cni_version_supported("1.1.0"));
	assert_false(cni_version_supported("0.2.0"));
	assert_false(cni_version_supported("2.0.0"));
	assert_false(cni_version_supported(NULL));
}

static void test_add_ok(void **state)
{
	json_t *j;

	add_calls = 0;
	assert_int_equal(run_str(add_env, conf_100, &j), 0);
	assert_int_equal(add_calls, 1);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "1.0.0");
	json_t *ip = json_array_get(json_object_get(j, "ips"), 0);
	assert_string_equal(json_string_value(json_object_get(ip, "address")), "10.1.0.5/24");
	assert_string_equal(json_string_value(json_object_get(ip, "gateway")), "10.1.0.1");
	assert_null(json_object_get(ip, "version")); /* gone since 1.0.0 */
	assert_int_equal(json_integer_value(json_object_get(ip, "interface")), 0);
	json_decref(j);
}

static void test_result_versions(void **state)
{
	/* 0.3.1 results carry ips[].version; 1.1.0 keeps route extras */
	const char *in = "{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\",\"mac\":\"aa:bb:cc:dd:ee:ff\"}],"
			 "\"ips\":[{\"version\":\"6\",\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1\",\"interface\":0}],"
			 "\"routes\":[{\"dst\":\"::/0\"}],\"dns\":{\"nameservers\":[\"10.0.0.1\"],\"search\":[\"a\",\"a\"]}}";
	json_t *j = json_loads(in, 0, NULL), *o;
	struct cni_result *r;

	assert_int_equal(cni_result_from_json(j, NULL, &r, NULL), 0);
	json_decref(j);
	assert_int_equal(r->n_ifaces, 1);
	assert_int_equal(r->ips[0].address.addr.family, AF_INET6);
	assert_int_equal(r->ips[0].address.len, 64);
	assert_int_equal(r->dns.n_search, 1); /* duplicates folded */

	o = cni_result_to_json(r, "0.4.0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "ips"), 0), "version")), "6");
	json_decref(o);

	r->routes[0].mtu = 1400;
	r->routes[0].table = 100;
	o = cni_result_to_json(r, "1.0.0");
	assert_null(json_object_get(json_array_get(json_object_get(o, "routes"), 0), "mtu"));
	assert_null(json_object_get(json_array_get(json_object_get(o, "ips"), 0), "version"));
	json_decref(o);
	o = cni_result_to_json(r, "1.1.0");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(o, "routes"), 0), "mtu")), 1400);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(o, "routes"), 0), "table")), 100);
	json_decref(o);
	cni_result_free(r);
}

static void test_result_bad(void **state)
{
	const char *bad[] = {
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1\"}]}",	      /* no prefix */
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1/24\",\"interface\":3}]}", /* no such iface */
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":{}}",
		"{\"cniVersion\":\"9.9.9\"}",
		"{\"cniVersion\":\"1.0.0\",\"routes\":[{\"dst\":\"x\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		struct cni_result *r = NULL;
		struct netd_err err = {0};

		assert_true(cni_result_from_json(j, NULL, &r, &err) < 0);
		assert_null(r);
		assert_true(err.code == CNI_ERR_DECODE || err.code == CNI_ERR_INCOMPATIBLE_VERSION);
		assert_true(err.msg[0]);
		json_decref(j);
	}
}

static void test_prev_result_passthrough(void **state)
{
	const char *conf = "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"netd-fake\",\"prevResult\":"
			   "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"cni0\"}],"
			   "\"ips\":[{\"version\":\"4\",\"address\":\"10.9.0.2/16\"}],\"dns\":{\"nameservers\":[\"1.1.1.1\"]}}}";
	json_t *j;

	assert_int_equal(run_str(add_env, conf, &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "0.4.0");
	assert_int_equal(json_array_size(json_object_get(j, "interfaces")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "ips")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(j, "dns"), "nameservers"), 0)),
			    "1.1.1.1");
	json_decref(j);
}

static void test_missing_command(void **state)
{
	const char *env[] = {"CNI_CONTAINERID=a", NULL};
	assert_refused(env, conf_100, CNI_ERR_INVALID_ENV, "1.1.0", "CNI_COMMAND is not set");
}

static void test_unknown_command(void **state)
{
	const char *env[] = {"CNI_COMMAND=FROB", NULL};
	assert_refused(env, conf_100, CNI_ERR_INVALID_ENV, "1.1.0", "FROB");
}

static void test_missing_env(void **state)
{
	const char *env[] = {"CNI_COMMAND=ADD", "CNI_IFNAME=eth0", NULL};
	json_t *j;

	add_calls = 0;
	assert_int_equal(run_str(env, conf_100, &j), 1);
	assert_int_equal(add_calls, 0);
	assert_error(j, CNI_ERR_INVALID_ENV, "1.0.0", "CNI_CONTAINERID CNI_NETNS");
}

static void test_bad_env_values(void **state)
{
	const char *bad_id[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=../x", "CNI_NETNS=/proc/self/ns/net",
				"CNI_IFNAME=eth0", NULL};
	const char *bad_if[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=x", "CNI_NETNS=/proc/self/ns/net",
				"CNI_IFNAME=a/b", NULL};
	const char *long_if[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=x", "CNI_NETNS=/proc/self/ns/net",
				 "CNI_IFNAME=sixteencharsxxxx", NULL};
	const char *no_ns[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=x", "CNI_NETNS=/run/netns/does-not-exist",
			       "CNI_IFNAME=eth0", NULL};
	const char *bad_args[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=x", "CNI_NETNS=/proc/self/ns/net",
				  "CNI_IFNAME=eth0", "CNI_ARGS=IgnoreUnknown=1;junk", NULL};
	const char *nonutf8_id[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=a\xff\xfe" "b", "CNI_NETNS=/proc/self/ns/net",
				    "CNI_IFNAME=eth0", NULL};
	assert_refused(bad_id, conf_100, CNI_ERR_INVALID_ENV, "1.0.0", "CNI_CONTAINERID");
	assert_refused(bad_if, conf_100, CNI_ERR_INVALID_ENV, "1.0.0", "CNI_IFNAME");
	assert_refused(long_if, conf_100, CNI_ERR_INVALID_ENV, "1.0.0", "CNI_IFNAME");
	assert_refused(no_ns, conf_100, CNI_ERR_UNKNOWN_CONTAINER, "1.0.0", "does-not-exist");
	assert_refused(bad_args, conf_100, CNI_ERR_INVALID_ENV, "1.0.0", "junk");
	/* the message quotes the id; JSON cannot hold these bytes, the message must still be there */
	assert_refused(nonutf8_id, conf_100, CNI_ERR_INVALID_ENV, "1.0.0", "CNI_CONTAINERID 'a?" "?b'");
}

/* The skeleton holds names to the same limits as netd (util.h), so an ADD a
 * main plugin accepts is never refused later by netd-endpoint. */
static void test_name_limits(void **state)
{
	char id[NETD_CID_MAX + 2], name[NETD_NAME_MAX + 2], idvar[sizeof(id) + 20], conf[256];
	const char *env[] = {"CNI_COMMAND=ADD", idvar, "CNI_NETNS=/proc/self/ns/net", "CNI_IFNAME=eth0", NULL};
	json_t *j;

	memset(id, 'c', sizeof(id) - 1);
	id[NETD_CID_MAX] = 0;
	snprintf(idvar, sizeof(idvar), "CNI_CONTAINERID=%s", id);
	assert_int_equal(run_str(env, conf_100, &j), 0);
	json_decref(j);
	id[NETD_CID_MAX] = 'c';
	id[NETD_CID_MAX + 1] = 0;
	snprintf(idvar, sizeof(idvar), "CNI_CONTAINERID=%s", id);
	assert_refused(env, conf_100, CNI_ERR_INVALID_ENV, "1.0.0", "not a valid container id");

	snprintf(idvar, sizeof(idvar), "CNI_CONTAINERID=abc");
	memset(name, 'n', sizeof(name) - 1);
	name[NETD_NAME_MAX] = 0;
	snprintf(conf, sizeof(conf), "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"type\":\"netd-fake\"}", name);
	assert_int_equal(run_str(env, conf, &j), 0);
	json_decref(j);
	name[NETD_NAME_MAX] = 'n';
	name[NETD_NAME_MAX + 1] = 0;
	snprintf(conf, sizeof(conf), "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"type\":\"netd-fake\"}", name);
	assert_refused(env, conf, CNI_ERR_INVALID_CONFIG, "1.0.0", "not a valid name");
}

/* What a plugin run writes to stderr. */
static char *stderr_of(const char *const *env)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	char *buf = calloc(1, 4096);
	json_t *j;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	assert_int_equal(run_str(env, conf_100, &j), 0);
	json_decref(j);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	assert_true(fread(buf, 1, 4095, tmp) < 4095);
	fclose(tmp);
	return buf;
}

/* The log level comes from the env the plugin is given, not the process's. */
static void test_log_level_from_given_env(void **state)
{
	const char *info[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=loud", "CNI_NETNS=/proc/self/ns/net",
			      "CNI_IFNAME=eth0", "NETD_LOG_LEVEL=info", NULL};
	const char *plain[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=quiet", "CNI_NETNS=/proc/self/ns/net",
			       "CNI_IFNAME=eth0", NULL};
	char *out;

	out = stderr_of(info);
	assert_non_null(strstr(out, "fake ADD of loud"));
	free(out);
	setenv("NETD_LOG_LEVEL", "debug", 1);
	out = stderr_of(plain);
	unsetenv("NETD_LOG_LEVEL");
	assert_null(strstr(out, "fake ADD of quiet"));
	free(out);
}

static void test_del_without_netns(void **state)
{
	const char *env[] = {"CNI_COMMAND=DEL", "CNI_CONTAINERID=abc", "CNI_IFNAME=eth0", NULL};
	const char *conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"netd-fake\",\"prevResult\":"
			   "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.9.0.2/16\"}]}}";
	json_t *j;

	del_calls = 0;
	assert_int_equal(run_str(env, conf, &j), 0);
	assert_null(j); /* DEL prints nothing on success */
	assert_int_equal(del_calls, 1);
	assert_non_null(seen_prev);
	assert_int_equal(seen_prev->n_ips, 1);
	cni_result_free(seen_prev);
	seen_prev = NULL;
}

static void test_bad_stdin(void **state)
{
	json_t *j;
	char nonutf8[] = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\xff\xfe\",\"type\":\"x\"}";
	size_t big = 10 * 1024 * 1024;
	char *huge = malloc(big);

	assert_refused(add_env, "", CNI_ERR_DECODE, "1.1.0", "no network config");
	assert_refused(add_env, "  \n", CNI_ERR_DECODE, "1.1.0", "no network config");
	assert_refused(add_env, "{\"cniVersion\":", CNI_ERR_DECODE, "1.1.0", "not valid JSON");
	assert_refused(add_env, "[1,2]", CNI_ERR_DECODE, "1.1.0", "not a JSON object");
	assert_refused(add_env, nonutf8, CNI_ERR_DECODE, "1.1.0", "not valid JSON");
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	/* too large is a config the plugin refuses (7), not bad JSON (6) */
	assert_int_equal(run(add_env, huge, big, &j), 1);
	assert_error(j, CNI_ERR_INVALID_CONFIG, "1.1.0", "larger than the limit of 1048576 bytes");
	/* exactly at the limit is read and parsed */
	huge[CNI_STDIN_MAX - 1] = '}';
	assert_int_equal(run(add_env, huge, CNI_STDIN_MAX, &j), 1);
	assert_error(j, CNI_ERR_INVALID_CONFIG, "1.1.0", "no cniVersion");
	huge[CNI_STDIN_MAX] = ' ';
	assert_int_equal(run(add_env, huge, CNI_STDIN_MAX + 1, &j), 1);
	assert_error(j, CNI_ERR_INVALID_CONFIG, "1.1.0", "larger than the limit");
	free(huge);
}

static void test_bad_config(void **state)
{
	assert_refused(add_env, "{\"name\":\"n\",\"type\":\"x\"}", CNI_ERR_INVALID_CONFIG, "1.1.0", "cniVersion");
	assert_refused(add_env, "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"x\"}",
		       CNI_ERR_INCOMPATIBLE_VERSION, "1.1.0", "0.2.0");
	assert_refused(add_env, "{\"cniVersion\":\"1.0.0\",\"type\":\"x\"}", CNI_ERR_INVALID_CONFIG, "1.0.0", "name");
	assert_refused(add_env, "{\"cniVersion\":\"1.0.0\",\"name\":\"-bad/name\",\"type\":\"x\"}",
		       CNI_ERR_INVALID_CONFIG, "1.0.0", "network name");
	assert_refused(add_env, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", CNI_ERR_INVALID_CONFIG, "1.0.0", "type");
	assert_refused(add_env, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"cniVersion\":\"1.0.0\"}",
		       CNI_ERR_DECODE, "1.1.0", "duplicate");
	assert_refused(add_env, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"prevResult\":{\"ips\":[{\"address\":\"nope\"}]}}",
		       CNI_ERR_DECODE, "1.0.0", "prevResult");
}

static void test_check_gc_versions(void **state)
{
	const char *check[] = {"CNI_COMMAND=CHECK", "CNI_CONTAINERID=abc", "CNI_NETNS=/proc/self/ns/net",
			       "CNI_IFNAME=eth0", NULL};
	const char *gc[] = {"CNI_COMMAND=GC", NULL};
	json_t *j;

	assert_refused(check, "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"x\"}",
		       CNI_ERR_INCOMPATIBLE_VERSION, "0.3.1", "CHECK");
	assert_refused(check, "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"x\"}",
		       NETD_ERR_DRIFT, "0.4.0", "drift found");
	assert_refused(gc, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\"}",
		       CNI_ERR_INCOMPATIBLE_VERSION, "1.0.0", "GC");
	assert_int_equal(run_str(gc, "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"x\","
				     "\"cni.dev/valid-attachments\":[]}", &j), 0);
	assert_null(j);
}

/* GC without the list would read as "nothing is valid": refused before the plugin runs. */
static void test_gc_valid_attachments(void **state)
{
	const char *gc[] = {"CNI_COMMAND=GC", NULL};
	struct cni_ctx ctx = {0};
	struct cni_attachment a[] = {{"c1", "eth0"}, {"c2", "eth1"}};

	assert_refused(gc, "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"x\"}",
		       CNI_ERR_INVALID_CONFIG, "1.1.0", "valid-attachments is missing");
	assert_refused(gc, "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"x\",\"cni.dev/valid-attachments\":{}}",
		       CNI_ERR_INVALID_CONFIG, "1.1.0", "must be a list");
	assert_refused(gc, "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"x\","
			   "\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\"}]}",
		       CNI_ERR_INVALID_CONFIG, "1.1.0", "[0] needs string containerID and ifname");

	ctx.valid = a;
	ctx.n_valid = 2;
	assert_true(cni_attachment_valid(&ctx, "c2", "eth1"));
	assert_false(cni_attachment_valid(&ctx, "c2", "eth0"));
	assert_false(cni_attachment_valid(&ctx, "c3", "eth0"));
}

static void test_version_cmd(void **state)
{
	const char *env[] = {"CNI_COMMAND=VERSION", NULL};
	json_t *j;

	assert_int_equal(run_str(env, "{\"cniVersion\":\"0.4.0\"}", &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "0.4.0");
	assert_int_equal(json_array_size(json_object_get(j, "supportedVersions")), 5);
	json_decref(j);
	assert_int_equal(run_str(env, "", &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "1.1.0");
	json_decref(j);
}

static void test_args_and_caps(void **state)
{
	struct cni_ctx ctx = {0};
	json_t *c = json_loads("{\"runtimeConfig\":{\"ips\":[\"10.0.0.9\"]}}", 0, NULL);

	ctx.runtime_config = json_object_get(c, "runtimeConfig");
	assert_non_null(cni_runtime_cap(&ctx, "ips"));
	assert_null(cni_runtime_cap(&ctx, "mac"));
	json_decref(c);
}

static void test_conf_helpers(void **state)
{
	json_t *o = json_loads("{\"mtu\":70000,\"b\":\"yes\",\"s\":1,\"ok\":1500}", 0, NULL);
	struct netd_err err = {0};
	long long v = 0;
	bool b = false;
	const char *s = NULL;

	assert_true(cni_conf_int(o, "mtu", 68, 65535, &v, &err) < 0);
	assert_non_null(strstr(err.msg, "mtu"));
	assert_int_equal(cni_conf_int(o, "ok", 68, 65535, &v, NULL), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(cni_conf_int(o, "absent", 0, 1, &v, NULL), 0);
	assert_int_equal(v, 1500);
	assert_true(cni_conf_bool(o, "b", &b, NULL) < 0);
	assert_true(cni_conf_str(o, "s", &s, NULL) < 0);
	json_decref(o);
}

static void test_delegate_not_found(void **state)
{
	struct cni_ctx ctx = {.path = "/nonexistent:/also-not"};
	struct netd_err err = {0};
	json_t *c = json_loads(conf_100, 0, NULL);

	assert_true(cni_delegate(&ctx, "netd-ipam", CNI_CMD_ADD, c, NULL, 0, &err) < 0);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "netd-ipam"));
	memset(&err, 0, sizeof(err));
	ctx.path = NULL;
	assert_true(cni_delegate(&ctx, "netd-ipam", CNI_CMD_ADD, c, NULL, 0, &err) < 0);
	assert_int_equal(err.code, CNI_ERR_INVALID_ENV);
	json_decref(c);
}

/* cni_exec: a plugin found on the path, its answer or its error object, and
 * the timeout, for a plugin that never answers. */
static void write_plugin(const char *dir, const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_exec(void **state)
{
	char dir[] = "/tmp/netd-test-exec-XXXXXX", path[128], rm[160];
	const char *env[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0", NULL};
	struct netd_err err = {0};
	json_t *c = json_loads(conf_100, 0, NULL), *reply;

	signal(SIGPIPE, SIG_IGN);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "/nonexistent:%s", dir);
	/* it sees its env and its stdin */
	write_plugin(dir, "echo", "read -r conf; printf '{\"cmd\":\"%s\",\"id\":\"%s\",\"conf\":%s}' "
				 "\"$CNI_COMMAND\" \"$CNI_CONTAINERID\" \"$conf\"");
	assert_int_equal(cni_exec(path, "echo", (char *const *)env, c, &reply, 0, &err), 0);
	assert_string_equal(json_string_value(json_object_get(reply, "cmd")), "ADD");
	assert_string_equal(json_string_value(json_object_get(reply, "id")), "c1");
	assert_true(json_equal(json_object_get(reply, "conf"), c));
	json_decref(reply);
	/* an error object keeps its code, message and details */
	write_plugin(dir, "refuses", "cat >/dev/null; echo '{\"code\":7,\"msg\":\"no way\",\"details\":\"why\"}'; exit 1");
	assert_true(cni_exec(path, "refuses", (char *const *)env, c, &reply, 0, &err) < 0);
	assert_null(reply);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	assert_string_equal(err.msg, "refuses ADD: no way");
	assert_string_equal(err.details, "why");
	/* no answer in time: killed, code 11 */
	memset(&err, 0, sizeof(err));
	write_plugin(dir, "hangs", "exec sleep 10");
	assert_int_equal(cni_exec(path, "hangs", (char *const *)env, c, &reply, 200, &err), -ETIMEDOUT);
	assert_int_equal(err.code, CNI_ERR_TRY_LATER);
	assert_non_null(strstr(err.msg, "did not answer within 200 ms"));
	/* not found, and not a plain name */
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_exec(path, "absent", (char *const *)env, c, NULL, 0, &err), -ENOENT);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_exec(path, "../echo", (char *const *)env, c, NULL, 0, &err), -EINVAL);
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_exec(path, NULL, (char *const *)env, c, NULL, 0, &err), -EINVAL);
	assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
	json_decref(c);
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	assert_int_equal(system(rm), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_cmp),	 cmocka_unit_test(test_add_ok),
		cmocka_unit_test(test_result_versions),	 cmocka_unit_test(test_result_bad),
		cmocka_unit_test(test_prev_result_passthrough), cmocka_unit_test(test_missing_command),
		cmocka_unit_test(test_unknown_command),	 cmocka_unit_test(test_missing_env),
		cmocka_unit_test(test_bad_env_values),	 cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_log_level_from_given_env), cmocka_unit_test(test_del_without_netns),
		cmocka_unit_test(test_bad_stdin),	 cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_check_gc_versions), cmocka_unit_test(test_gc_valid_attachments),
		cmocka_unit_test(test_version_cmd),
		cmocka_unit_test(test_args_and_caps),	 cmocka_unit_test(test_conf_helpers),
		cmocka_unit_test(test_delegate_not_found), cmocka_unit_test(test_exec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
