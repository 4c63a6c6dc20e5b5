/* The CNI protocol: environment, config, version negotiation, errors,
 * delegation and the plugin skeleton. Results live in cni_result.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netd/cni.h"
#include "netd/log.h"
#include "netd/util.h"

extern char **environ;

static const char *const command_names[] = {
	[CNI_CMD_NONE] = "", [CNI_CMD_ADD] = "ADD", [CNI_CMD_DEL] = "DEL", [CNI_CMD_CHECK] = "CHECK",
	[CNI_CMD_VERSION] = "VERSION", [CNI_CMD_GC] = "GC", [CNI_CMD_STATUS] = "STATUS",
};

const char *cni_command_name(enum cni_command c)
{
	return c <= CNI_CMD_STATUS ? command_names[c] : "";
}

static enum cni_command command_parse(const char *s)
{
	for (int c = CNI_CMD_ADD; c <= CNI_CMD_STATUS; c++)
		if (!strcmp(s, command_names[c]))
			return (enum cni_command)c;
	return CNI_CMD_NONE;
}

const char *cni_getenv(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

const char *cni_arg(const struct cni_ctx *ctx, const char *key)
{
	for (size_t i = 0; i < ctx->n_args; i++)
		if (!strcmp(ctx->args[i].key, key))
			return ctx->args[i].value;
	return NULL;
}

static int parse_cni_args(struct cni_ctx *ctx, const char *s, struct netd_err *err)
{
	char *copy, *save = NULL, *tok;
	int rc = 0;

	if (!s || !*s)
		return 0;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tok, '=');
		struct cni_kv *kv;

		if (!eq || eq == tok) {
			rc = netd_err_set(err, -EINVAL, CNI_ERR_INVALID_ENV,
					  "CNI_ARGS: '%s' is not a KEY=VALUE pair", tok);
			break;
		}
		kv = realloc(ctx->args, (ctx->n_args + 1) * sizeof(*kv));
		if (!kv) {
			rc = -ENOMEM;
			break;
		}
		ctx->args = kv;
		*eq = '\0';
		kv[ctx->n_args].key = strdup(tok);
		kv[ctx->n_args].value = strdup(eq + 1);
		ctx->n_args++;
	}
	free(copy);
	return rc;
}

static void ctx_clear(struct cni_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_args; i++) {
		free(ctx->args[i].key);
		free(ctx->args[i].value);
	}
	free(ctx->args);
	free(ctx->valid);
	json_decref(ctx->config);
	json_decref(ctx->output);
	cni_result_free(ctx->prev);
	cni_result_free(ctx->result);
}

/* Read all of `in` into a malloc'ed buffer. More than CNI_STDIN_MAX is a
 * config we refuse (code 7), not one we failed to decode (6). */
static int read_all(FILE *in, char **out, size_t *len, struct netd_err *err)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t got;

		if (n == cap) {
			/* one byte past the limit is enough to know it is too large */
			size_t next = cap * 2 > CNI_STDIN_MAX + 1 ? CNI_STDIN_MAX + 1 : cap * 2;
			char *p;

			if (next == cap)
				break;
			if (!(p = realloc(buf, next))) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
			cap = next;
		}
		got = fread(buf + n, 1, cap - n, in);
		n += got;
		if (got == 0)
			break;
	}
	if (n > CNI_STDIN_MAX) {
		free(buf);
		return netd_err_set(err, -EFBIG, CNI_ERR_INVALID_CONFIG,
				    "network config on stdin is larger than the limit of %d bytes", CNI_STDIN_MAX);
	}
	*out = buf;
	*len = n;
	return 0;
}

static int parse_json(const char *buf, size_t len, json_t **out, struct netd_err *err)
{
	json_error_t je;
	json_t *j;
	size_t i = 0;

	while (i < len && strchr(" \t\r\n", buf[i]) && buf[i])
		i++;
	if (i == len)
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "no network config on stdin");
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "network config on stdin is not valid JSON: %s (line %d, column %d)",
				    je.text, je.line, je.column);
	if (!json_is_object(j)) {
		json_decref(j);
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "network config on stdin is not a JSON object");
	}
	*out = j;
	return 0;
}

static void versions_str(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; cni_supported_versions[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", cni_supported_versions[i]);
}

json_t *cni_error_json(const char *version, const struct netd_err *err)
{
	json_t *j = json_object();

	json_object_set_new(j, "cniVersion", json_string(version && cni_version_supported(version) ? version
											   : CNI_VERSION_LATEST));
	json_object_set_new(j, "code", json_integer(err->code ? err->code : NETD_ERR_INTERNAL));
	json_object_set_new(j, "msg", json_string(err->msg[0] ? err->msg : "unknown error"));
	if (err->details[0])
		json_object_set_new(j, "details", json_string(err->details));
	return j;
}

static int emit(FILE *out, json_t *j)
{
	int rc = json_dumpf(j, out, JSON_COMPACT) ? -EIO : 0;

	fputc('\n', out);
	fflush(out);
	json_decref(j);
	return rc;
}

static int do_version(struct cni_ctx *ctx, FILE *in, FILE *out)
{
	const char *asked = NULL;
	char *buf = NULL;
	size_t len = 0;
	json_t *j = NULL, *reply, *vs;

	/* VERSION input is optional in practice: answer even on empty stdin. */
	if (read_all(in, &buf, &len, NULL) == 0 && len && parse_json(buf, len, &j, NULL) == 0)
		asked = json_string_value(json_object_get(j, "cniVersion"));
	free(buf);
	reply = json_object();
	json_object_set_new(reply, "cniVersion",
			    json_string(asked && cni_version_cmp(asked, "0.0.0") >= 0 ? asked : CNI_VERSION_LATEST));
	vs = json_array();
	for (int i = 0; cni_supported_versions[i]; i++)
		json_array_append_new(vs, json_string(cni_supported_versions[i]));
	json_object_set_new(reply, "supportedVersions", vs);
	json_decref(j);
	(void)ctx;
	return emit(out, reply) ? 1 : 0;
}

/* Check env against what the command needs. */
static int check_env(struct cni_ctx *ctx, struct netd_err *err)
{
	bool need_id = ctx->cmd == CNI_CMD_ADD || ctx->cmd == CNI_CMD_DEL || ctx->cmd == CNI_CMD_CHECK;
	bool need_ns = ctx->cmd == CNI_CMD_ADD || ctx->cmd == CNI_CMD_CHECK;
	char missing[128] = "";
	struct stat st;

	if (need_id && (!ctx->container_id || !*ctx->container_id))
		strcat(missing, " CNI_CONTAINERID");
	if (need_ns && (!ctx->netns || !*ctx->netns))
		strcat(missing, " CNI_NETNS");
	if (need_id && (!ctx->ifname || !*ctx->ifname))
		strcat(missing, " CNI_IFNAME");
	if (missing[0])
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_ENV, "required environment variables missing:%s",
				    missing);
	if (need_id && !netd_cid_valid(ctx->container_id))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_ENV,
				    "CNI_CONTAINERID '%s' is not a valid container id (" NETD_CID_RULE ")",
				    ctx->container_id);
	if (need_id && !netd_ifname_valid(ctx->ifname))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_ENV,
				    "CNI_IFNAME '%s' is not a valid interface name (" NETD_IFNAME_RULE ")", ctx->ifname);
	if (need_ns && stat(ctx->netns, &st) < 0) {
		if (errno == ENOENT)
			return netd_err_set(err, -ENOENT, CNI_ERR_UNKNOWN_CONTAINER, "netns %s does not exist",
					    ctx->netns);
		return netd_err_set(err, -errno, CNI_ERR_INVALID_ENV, "CNI_NETNS %s: %s", ctx->netns,
				    strerror(errno));
	}
	return 0;
}

#define VALID_KEY "cni.dev/valid-attachments"

static int parse_valid_attachments(struct cni_ctx *ctx, struct netd_err *err)
{
	json_t *list = json_object_get(ctx->config, VALID_KEY), *o;
	size_t i;

	if (!json_is_array(list))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "GC: %s %s", VALID_KEY,
				    list ? "must be a list" : "is missing (without it every attachment would look stale)");
	ctx->n_valid = json_array_size(list);
	if (ctx->n_valid && !(ctx->valid = calloc(ctx->n_valid, sizeof(*ctx->valid))))
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	json_array_foreach(list, i, o) {
		ctx->valid[i].container_id = json_string_value(json_object_get(o, "containerID"));
		ctx->valid[i].ifname = json_string_value(json_object_get(o, "ifname"));
		if (!ctx->valid[i].container_id || !ctx->valid[i].ifname)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
					    "GC: %s[%zu] needs string containerID and ifname", VALID_KEY, i);
	}
	return 0;
}

bool cni_attachment_valid(const struct cni_ctx *ctx, const char *container_id, const char *ifname)
{
	for (size_t i = 0; i < ctx->n_valid; i++)
		if (!strcmp(ctx->valid[i].container_id, container_id) && !strcmp(ctx->valid[i].ifname, ifname))
			return true;
	return false;
}

static int check_config(struct cni_ctx *ctx, struct netd_err *err)
{
	json_t *c = ctx->config, *prev;
	char vs[128];

	ctx->version = json_string_value(json_object_get(c, "cniVersion"));
	if (!ctx->version) {
		if (json_object_get(c, "cniVersion"))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "network config: cniVersion must be a string");
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "network config has no cniVersion");
	}
	if (!cni_version_supported(ctx->version)) {
		const char *v = ctx->version;

		ctx->version = NULL; /* the error object then carries our latest */
		versions_str(vs, sizeof(vs));
		return netd_err_set(err, -ENOTSUP, CNI_ERR_INCOMPATIBLE_VERSION,
				    "incompatible CNI versions: config is '%s', plugin supports %s", v, vs);
	}
	ctx->network = json_string_value(json_object_get(c, "name"));
	ctx->type = json_string_value(json_object_get(c, "type"));
	if (!ctx->network)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "network config has no string 'name'");
	if (!netd_name_valid(ctx->network))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
				    "network name '%s' is not a valid name (" NETD_NAME_RULE ")", ctx->network);
	if (!ctx->type || !*ctx->type)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "network config has no string 'type'");
	if (ctx->cmd == CNI_CMD_CHECK && cni_version_cmp(ctx->version, "0.4.0") < 0)
		return netd_err_set(err, -ENOTSUP, CNI_ERR_INCOMPATIBLE_VERSION,
				    "config version %s does not allow CHECK (0.4.0 or later)", ctx->version);
	if ((ctx->cmd == CNI_CMD_GC || ctx->cmd == CNI_CMD_STATUS) && cni_version_cmp(ctx->version, "1.1.0") < 0)
		return netd_err_set(err, -ENOTSUP, CNI_ERR_INCOMPATIBLE_VERSION,
				    "config version %s does not allow %s (1.1.0 or later)", ctx->version,
				    cni_command_name(ctx->cmd));
	ctx->runtime_config = json_object_get(c, "runtimeConfig");
	if (ctx->runtime_config && !json_is_object(ctx->runtime_config))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "network config: runtimeConfig must be an object");
	ctx->conf_args = json_object_get(c, "args");
	if (ctx->conf_args && !json_is_object(ctx->conf_args))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "network config: args must be an object");
	if (ctx->cmd == CNI_CMD_GC) {
		int rc = parse_valid_attachments(ctx, err);

		if (rc < 0)
			return rc;
	}
	prev = json_object_get(c, "prevResult");
	if (prev && !json_is_null(prev)) {
		int rc = cni_result_from_json(prev, ctx->version, &ctx->prev, err);

		if (rc < 0) {
			netd_err_prefix(err, CNI_ERR_DECODE, "prevResult");
			return rc;
		}
	}
	return 0;
}

int cni_plugin_run(const struct cni_plugin *p, char *const *envp, FILE *in, FILE *out)
{
	struct cni_ctx ctx = {.envp = envp};
	const char *cmd = cni_getenv(envp, "CNI_COMMAND");
	char *buf = NULL;
	size_t len = 0;
	int rc = 0, level;

	level = netd_log_level_parse(cni_getenv(envp, "NETD_LOG_LEVEL"));
	netd_log_init(p->name, level >= 0 ? (enum netd_log_level)level : NETD_LOG_WARN);
	if (!cmd || !*cmd) {
		rc = netd_err_set(&ctx.err, -EINVAL, CNI_ERR_INVALID_ENV,
				  "CNI_COMMAND is not set; %s is a CNI plugin (ADD, DEL, CHECK, GC, STATUS, VERSION)",
				  p->name);
		goto out;
	}
	ctx.cmd = command_parse(cmd);
	if (ctx.cmd == CNI_CMD_NONE) {
		rc = netd_err_set(&ctx.err, -EINVAL, CNI_ERR_INVALID_ENV,
				  "unknown CNI_COMMAND '%s' (ADD, DEL, CHECK, GC, STATUS, VERSION)", cmd);
		goto out;
	}
	if (ctx.cmd == CNI_CMD_VERSION)
		return do_version(&ctx, in, out);

	ctx.container_id = cni_getenv(envp, "CNI_CONTAINERID");
	ctx.netns = cni_getenv(envp, "CNI_NETNS");
	ctx.ifname = cni_getenv(envp, "CNI_IFNAME");
	ctx.path = cni_getenv(envp, "CNI_PATH");
	if (ctx.path && !*ctx.path)
		ctx.path = NULL;
	if (ctx.netns && !*ctx.netns)
		ctx.netns = NULL;

	/* Config first: its cniVersion is what every later error carries. */
	if ((rc = read_all(in, &buf, &len, &ctx.err)) < 0 || (rc = parse_json(buf, len, &ctx.config, &ctx.err)) < 0 ||
	    (rc = check_config(&ctx, &ctx.err)) < 0)
		goto out;
	if ((rc = check_env(&ctx, &ctx.err)) < 0 ||
	    (rc = parse_cni_args(&ctx, cni_getenv(envp, "CNI_ARGS"), &ctx.err)) < 0)
		goto out;

	switch (ctx.cmd) {
	case CNI_CMD_ADD:
		rc = p->add ? p->add(&ctx) : netd_err_set(&ctx.err, -ENOTSUP, CNI_ERR_UNSUPPORTED_FIELD, "ADD is not supported");
		if (!rc && !ctx.result && !ctx.output)
			rc = netd_err_set(&ctx.err, -EINVAL, NETD_ERR_INTERNAL, "%s produced no result", p->name);
		break;
	case CNI_CMD_DEL:
		rc = p->del ? p->del(&ctx) : 0;
		break;
	case CNI_CMD_CHECK:
		rc = p->check ? p->check(&ctx)
			      : netd_err_set(&ctx.err, -ENOTSUP, CNI_ERR_UNSUPPORTED_FIELD, "%s does not implement CHECK",
					     p->name);
		break;
	case CNI_CMD_GC:
		rc = p->gc ? p->gc(&ctx) : 0;
		break;
	case CNI_CMD_STATUS:
		rc = p->status ? p->status(&ctx) : 0;
		break;
	default:
		break;
	}
out:
	free(buf);
	if (rc < 0) {
		if (!netd_err_isset(&ctx.err))
			netd_err_set(&ctx.err, rc, NETD_ERR_INTERNAL, "%s %s failed: %s", p->name,
				     cni_command_name(ctx.cmd), strerror(-rc));
		log_err("%s%s%s: %s", cni_command_name(ctx.cmd), ctx.container_id ? " " : "",
			ctx.container_id ? ctx.container_id : "", ctx.err.msg);
		emit(out, cni_error_json(ctx.version, &ctx.err));
		ctx_clear(&ctx);
		return 1;
	}
	if (ctx.result)
		rc = emit(out, cni_result_to_json(ctx.result, ctx.version));
	else if (ctx.output) {
		rc = emit(out, ctx.output);
		ctx.output = NULL;
	}
	ctx_clear(&ctx);
	return rc ? 1 : 0;
}

int cni_main(const struct cni_plugin *p)
{
	/* A runtime that closed our stdout must not kill us halfway through undo. */
	signal(SIGPIPE, SIG_IGN);
	return cni_plugin_run(p, environ, stdin, stdout);
}

/* ---- config helpers ---- */

int cni_conf_bool(const json_t *obj, const char *key, bool *out, struct netd_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "field '%s' must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

int cni_conf_int(const json_t *obj, const char *key, long long min, long long max, long long *out,
		 struct netd_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "field '%s' must be an integer", key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return netd_err_set(err, -ERANGE, CNI_ERR_INVALID_CONFIG, "field '%s' is %lld, must be %lld..%lld", key,
				    (long long)json_integer_value(v), min, max);
	*out = json_integer_value(v);
	return 0;
}

int cni_conf_str(const json_t *obj, const char *key, const char **out, struct netd_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "field '%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

json_t *cni_runtime_cap(const struct cni_ctx *ctx, const char *cap)
{
	return ctx->runtime_config ? json_object_get(ctx->runtime_config, cap) : NULL;
}

/* ---- delegation ---- */

int cni_find_plugin(const char *cni_path, const char *type, char *out, size_t len)
{
	const char *p = cni_path;

	if (!*type || strchr(type, '/') || !strcmp(type, ".") || !strcmp(type, ".."))
		return -EINVAL;
	while (p && *p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);

		if (n && (size_t)snprintf(out, len, "%.*s/%s", (int)n, p, type) < len && access(out, X_OK) == 0)
			return 0;
		p = colon ? colon + 1 : NULL;
	}
	return -ENOENT;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run `path` with envp, feed `input`, collect stdout. Returns the exit status
 * (>= 0), or -errno / -ETIMEDOUT. */
static int run_plugin(const char *path, char *const *envp, const char *input, size_t in_len, char **output,
		      size_t *out_len, int timeout_ms)
{
	int inp[2] = {-1, -1}, outp[2] = {-1, -1}, status, rc = 0;
	posix_spawn_file_actions_t fa;
	char *argv[] = {(char *)path, NULL};
	size_t written = 0, cap = 4096, n = 0;
	char *buf = malloc(cap);
	long long deadline = now_ms() + timeout_ms;
	pid_t pid;

	if (!buf)
		return -ENOMEM;
	if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out_close;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	rc = -posix_spawn(&pid, path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		goto out_close;
	close(inp[0]);
	close(outp[1]);
	inp[0] = outp[1] = -1;
	fcntl(inp[1], F_SETFL, O_NONBLOCK);
	if (in_len == 0) {
		close(inp[1]);
		inp[1] = -1;
	}

	while (outp[0] >= 0) {
		struct pollfd pf[2] = {{.fd = outp[0], .events = POLLIN}, {.fd = inp[1], .events = POLLOUT}};
		long long left = deadline - now_ms();
		int r;

		if (left <= 0) {
			kill(pid, SIGKILL);
			rc = -ETIMEDOUT;
			break;
		}
		r = poll(pf, inp[1] >= 0 ? 2 : 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (inp[1] >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(inp[1], input + written, in_len - written);

			if (w > 0)
				written += (size_t)w;
			if (w < 0 && errno != EAGAIN)
				written = in_len; /* the child stopped reading; it will answer or fail */
			if (written == in_len) {
				close(inp[1]);
				inp[1] = -1;
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got;

			if (n + 1 >= cap) {
				char *p = cap >= CNI_STDIN_MAX ? NULL : realloc(buf, cap * 2);

				if (!p) {
					kill(pid, SIGKILL);
					rc = -EFBIG;
					break;
				}
				buf = p;
				cap *= 2;
			}
			got = read(outp[0], buf + n, cap - n - 1);
			if (got > 0)
				n += (size_t)got;
			else if (got == 0 || errno != EINTR) {
				close(outp[0]);
				outp[0] = -1;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!rc)
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out_close:
	for (int i = 0; i < 2; i++) {
		if (inp[i] >= 0)
			close(inp[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*output = buf;
	*out_len = n;
	return rc;
}

/* envp with CNI_COMMAND replaced; the strings are borrowed except the new one. */
static char **delegate_env(char *const *envp, enum cni_command cmd, char *cmdvar, size_t cmdlen)
{
	size_t n = 0, j = 0;
	char **e;

	while (envp && envp[n])
		n++;
	e = calloc(n + 2, sizeof(char *));
	if (!e)
		return NULL;
	snprintf(cmdvar, cmdlen, "CNI_COMMAND=%s", cni_command_name(cmd));
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], "CNI_COMMAND=", 12))
			e[j++] = envp[i];
	e[j++] = cmdvar;
	return e;
}

int cni_exec(const char *cni_path, const char *type, char *const *envp, const json_t *config, json_t **reply,
	     int timeout_ms, struct netd_err *err)
{
	const char *cmd = cni_getenv(envp, "CNI_COMMAND");
	char path[PATH_MAX], *input = NULL, *output = NULL;
	size_t out_len = 0;
	json_t *j = NULL;
	int rc, status;

	if (reply)
		*reply = NULL;
	if (!cmd)
		cmd = "";
	if (timeout_ms <= 0)
		timeout_ms = CNI_EXEC_TIMEOUT_MS;
	if (!type)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "plugin config has no string 'type'");
	if (!cni_path || !*cni_path)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_ENV, "CNI_PATH is not set; it is needed to run plugin '%s'",
				    type);
	rc = cni_find_plugin(cni_path, type, path, sizeof(path));
	if (rc == -EINVAL)
		return netd_err_set(err, rc, CNI_ERR_INVALID_CONFIG, "plugin type '%s' is not a plain file name", type);
	if (rc < 0)
		return netd_err_set(err, rc, CNI_ERR_INVALID_CONFIG, "plugin '%s' not found in CNI_PATH %s", type, cni_path);
	if (!(input = json_dumps(config, JSON_COMPACT)))
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	status = run_plugin(path, envp, input, strlen(input), &output, &out_len, timeout_ms);
	free(input);
	if (status == -ETIMEDOUT)
		return netd_err_set(err, status, CNI_ERR_TRY_LATER, "plugin '%s' %s did not answer within %d ms", type, cmd,
				    timeout_ms);
	if (status < 0)
		return netd_err_set(err, status, CNI_ERR_IO, "running plugin '%s': %s", type, strerror(-status));
	if (out_len)
		j = json_loadb(output, out_len, 0, NULL);
	if (status != 0) {
		const char *msg = json_string_value(json_object_get(j, "msg"));
		const char *details = json_string_value(json_object_get(j, "details"));
		json_t *code = json_object_get(j, "code");

		rc = netd_err_set(err, -EIO, json_is_integer(code) ? (int)json_integer_value(code) : NETD_ERR_INTERNAL,
				  "%s %s: %s", type, cmd,
				  msg && *msg ? msg : out_len ? output : "failed without an error message");
		if (details)
			netd_err_details(err, "%s", details);
	} else if (reply && out_len) {
		if (json_is_object(j))
			*reply = json_incref(j);
		else
			rc = netd_err_set(err, -EPROTO, CNI_ERR_DECODE, "plugin '%s' %s printed something that is not a JSON object",
					  type, cmd);
	}
	json_decref(j);
	free(output);
	return rc;
}

int cni_delegate(const struct cni_ctx *ctx, const char *type, enum cni_command cmd, const json_t *config,
		 struct cni_result **out, int timeout_ms, struct netd_err *err)
{
	char cmdvar[32], **env;
	json_t *reply = NULL;
	bool want = cmd == CNI_CMD_ADD && out;
	int rc;

	if (out)
		*out = NULL;
	if (!(env = delegate_env(ctx->envp, cmd, cmdvar, sizeof(cmdvar))))
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	/* the path the plugin was given: ctx->path, not whatever env says */
	rc = cni_exec(ctx->path, type, env, config, want ? &reply : NULL, timeout_ms, err);
	free(env);
	if (rc < 0 || !want)
		return rc;
	if (!reply)
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "plugin '%s' ADD printed no JSON result", type);
	rc = cni_result_from_json(reply, json_string_value(json_object_get(config, "cniVersion")), out, err);
	if (rc < 0)
		netd_err_prefix(err, CNI_ERR_DECODE, "result of plugin '%s'", type);
	json_decref(reply);
	return rc;
}

int cni_invoke(const struct cni_ctx *ctx, const struct cni_plugin *p, enum cni_command cmd,
	       struct cni_result **out, struct netd_err *err)
{
	struct cni_ctx sub = *ctx;
	int (*handler)(struct cni_ctx *) = NULL;
	int rc;

	if (out)
		*out = NULL;
	switch (cmd) {
	case CNI_CMD_ADD: handler = p->add; break;
	case CNI_CMD_DEL: handler = p->del; break;
	case CNI_CMD_CHECK: handler = p->check; break;
	case CNI_CMD_GC: handler = p->gc; break;
	case CNI_CMD_STATUS: handler = p->status; break;
	default: break;
	}
	if (!handler)
		return netd_err_set(err, -ENOTSUP, CNI_ERR_UNSUPPORTED_FIELD, "%s does not implement %s", p->name,
				    cni_command_name(cmd));
	/* The sub-context borrows everything but what the handler fills. */
	sub.cmd = cmd;
	sub.result = NULL;
	sub.output = NULL;
	sub.unchanged = false;
	memset(&sub.err, 0, sizeof(sub.err));
	rc = handler(&sub);
	json_decref(sub.output);
	if (rc < 0) {
		cni_result_free(sub.result);
		/* As cni_delegate reports a delegate's error object. */
		netd_err_set(err, rc, sub.err.code ? sub.err.code : NETD_ERR_INTERNAL, "%s %s: %s", p->name,
			     cni_command_name(cmd), sub.err.msg[0] ? sub.err.msg : strerror(-rc));
		if (sub.err.details[0])
			netd_err_details(err, "%s", sub.err.details);
		return rc;
	}
	if (cmd == CNI_CMD_ADD && !sub.result)
		return netd_err_set(err, -EINVAL, NETD_ERR_INTERNAL, "%s ADD produced no result", p->name);
	if (out && cmd == CNI_CMD_ADD)
		*out = sub.result;
	else
		cni_result_free(sub.result);
	return cmd == CNI_CMD_ADD && sub.unchanged ? 1 : 0;
}
