/* cni.h — the CNI protocol: environment, network config, results, errors,
 * version negotiation, delegation, and the plugin skeleton.
 *
 * A plugin's main() is one line, its name and handlers:
 *
 *     CNI_PLUGIN_MAIN("netd-bridge", cmd_add, cmd_del, cmd_check, cmd_gc, cmd_status)
 *
 * (a struct cni_plugin handed to cni_main(), which other programs, e.g.
 * cni_invoke's callers, use directly).
 *
 * cni_plugin_run() does everything the spec asks of every plugin before the
 * command runs: it reads CNI_* from an env array and the config from a stream,
 * validates both, negotiates the version, parses prevResult (converting it to
 * the internal form), and afterwards prints exactly one JSON object — the
 * result in the config's cniVersion, or an error object carrying cniVersion.
 * It takes env, stdin and stdout as parameters so tests run commands in-process.
 *
 * Results are held in one internal form (spec 1.1.0) and converted on output.
 */
#ifndef NETD_CNI_H
#define NETD_CNI_H

#include <stdbool.h>
#include <stdio.h>
#include <net/if.h>
#include <jansson.h>

#include "netd/addr.h"
#include "netd/err.h"

#define CNI_VERSION_LATEST "1.1.0"
/* Versions every netd plugin speaks, oldest first, NULL-terminated. */
extern const char *const cni_supported_versions[];

enum cni_command {
	CNI_CMD_NONE = 0,
	CNI_CMD_ADD,
	CNI_CMD_DEL,
	CNI_CMD_CHECK,
	CNI_CMD_VERSION,
	CNI_CMD_GC,
	CNI_CMD_STATUS,
};

const char *cni_command_name(enum cni_command c);

/* ---- versions ---------------------------------------------------------- */

/* Compare two "X.Y.Z" versions: <0, 0, >0; a string that does not parse sorts
 * before everything. */
int cni_version_cmp(const char *a, const char *b);
bool cni_version_supported(const char *v);

/* ---- results ----------------------------------------------------------- */

struct cni_iface {
	char name[IFNAMSIZ];
	char mac[18];		/* "" = not reported */
	char sandbox[4096];	/* netns path; "" = host side */
	int mtu;		/* 0 = not reported (1.1.0) */
	char socket_path[256];	/* 1.1.0 */
	char pci_id[64];	/* 1.1.0 */
};

struct cni_ip {
	struct netd_prefix address;	/* address with its prefix length */
	struct netd_addr gateway;	/* family 0 = none */
	int iface;			/* index into interfaces, -1 = none */
};

struct cni_route {
	struct netd_prefix dst;
	struct netd_addr gw;		/* family 0 = none */
	int mtu, advmss, priority, table; /* 0 = unset (1.1.0 fields) */
	int scope;			/* -1 = unset */
};

struct cni_dns {
	char **nameservers; size_t n_nameservers;
	char *domain;
	char **search; size_t n_search;
	char **options; size_t n_options;
};

struct cni_result {
	struct cni_iface *ifaces; size_t n_ifaces;
	struct cni_ip *ips; size_t n_ips;
	struct cni_route *routes; size_t n_routes;
	struct cni_dns dns;
};

struct cni_result *cni_result_new(void);
void cni_result_free(struct cni_result *r);
struct cni_result *cni_result_dup(const struct cni_result *r);

/* Append and return the index of the new entry, or -ENOMEM. */
int cni_result_add_iface(struct cni_result *r, const struct cni_iface *i);
int cni_result_add_ip(struct cni_result *r, const struct cni_ip *ip);
int cni_result_add_route(struct cni_result *r, const struct cni_route *rt);
int cni_dns_add(char ***list, size_t *n, const char *s);
/* Merge src's dns into dst's (no duplicates). */
int cni_dns_merge(struct cni_dns *dst, const struct cni_dns *src);

/* Parse a result of any supported version (0.3.0 .. 1.1.0). The version is
 * taken from the object's cniVersion, or from `version` when that is absent.
 * Errors are CNI code 6 (decode) or 1 (unsupported version). */
int cni_result_from_json(const json_t *j, const char *version,
			 struct cni_result **out, struct netd_err *err);
/* Render in `version`: 0.3.x/0.4.0 get ips[].version, 1.0.0 drops it, fields
 * new in 1.1.0 appear only there. */
json_t *cni_result_to_json(const struct cni_result *r, const char *version);

/* Find the interface in the result named `ifname` whose sandbox is non-empty
 * (the container side); -1 if none. */
int cni_result_find_iface(const struct cni_result *r, const char *ifname, bool in_sandbox);

/* ---- invocation context ------------------------------------------------ */

struct cni_kv { char *key; char *value; };

/* One entry of GC's cni.dev/valid-attachments (strings borrowed from config). */
struct cni_attachment { const char *container_id; const char *ifname; };

struct cni_ctx {
	enum cni_command cmd;
	const char *container_id;	/* CNI_CONTAINERID */
	const char *netns;		/* CNI_NETNS, may be NULL on DEL/GC */
	const char *ifname;		/* CNI_IFNAME */
	const char *path;		/* CNI_PATH, may be NULL */
	struct cni_kv *args; size_t n_args; /* CNI_ARGS, split */
	char *const *envp;		/* the environment the plugin was given */

	json_t *config;			/* the whole network config (owned) */
	const char *version;		/* config's cniVersion */
	const char *network;		/* config's name */
	const char *type;		/* config's type */
	struct cni_result *prev;	/* prevResult converted, or NULL */
	json_t *runtime_config;		/* config's runtimeConfig or NULL (borrowed) */
	json_t *conf_args;		/* config's args or NULL (borrowed) */
	/* GC only: cni.dev/valid-attachments, checked by the skeleton (a GC
	 * without the list is refused, code 7: it would look like "free all"). */
	struct cni_attachment *valid; size_t n_valid;

	struct cni_result *result;	/* ADD fills it; printed on success */
	/* ADD: the handler's result is what this attachment already held, this
	 * call created nothing (an idempotent repeat). Seen by cni_invoke. */
	bool unchanged;
	json_t *output;			/* or any other JSON object to print (STATUS/GC none) */
	struct netd_err err;		/* set on failure */
};

/* GC: is (container_id, ifname) among the valid attachments? */
bool cni_attachment_valid(const struct cni_ctx *ctx, const char *container_id, const char *ifname);

/* Value of CNI_ARGS key, or NULL. */
const char *cni_arg(const struct cni_ctx *ctx, const char *key);
/* Lookup in the env array the plugin was given. */
const char *cni_getenv(char *const *envp, const char *name);

/* A plugin's command handlers. Each returns 0 or a negative errno with ctx->err
 * set. A NULL handler: DEL, GC and STATUS succeed with nothing to do; ADD and
 * CHECK fail with code 2 (unsupported). */
struct cni_plugin {
	const char *name;	/* "netd-bridge", used in messages and VERSION */
	int (*add)(struct cni_ctx *ctx);
	int (*del)(struct cni_ctx *ctx);
	int (*check)(struct cni_ctx *ctx);
	int (*gc)(struct cni_ctx *ctx);
	int (*status)(struct cni_ctx *ctx);
};

/* Run one command. envp: NULL-terminated "K=V" array; in: the config; out:
 * where the single JSON object goes. Returns the process exit status (0 or 1).
 * Diagnostics go to stderr. */
int cni_plugin_run(const struct cni_plugin *p, char *const *envp, FILE *in, FILE *out);
/* cni_plugin_run(p, environ, stdin, stdout) */
int cni_main(const struct cni_plugin *p);

/* A plugin binary's main(): its name and handlers in struct cni_plugin's
 * order, then cni_main(). */
#define CNI_PLUGIN_MAIN(name_, add_, del_, check_, gc_, status_)                                            \
	int main(void)                                                                                       \
	{                                                                                                    \
		static const struct cni_plugin plugin_ = {                                                   \
			.name = name_, .add = add_, .del = del_, .check = check_, .gc = gc_, .status = status_}; \
		return cni_main(&plugin_);                                                                   \
	}

/* Shorthands for handlers: a config problem (code 7), CHECK finding drift
 * (NETD_ERR_DRIFT). printf-style, return -EINVAL. */
#define cni_conf_err(ctx, ...) netd_err_set(&(ctx)->err, -EINVAL, CNI_ERR_INVALID_CONFIG, __VA_ARGS__)
#define cni_drift(ctx, ...) netd_err_set(&(ctx)->err, -EINVAL, NETD_ERR_DRIFT, __VA_ARGS__)

/* Limit on stdin (1 MiB: a GC with some 10,000 valid attachments still fits);
 * larger configs are refused with code 7 and a message naming the limit. */
#define CNI_STDIN_MAX (1024 * 1024)

/* ---- config helpers (errors with code 7 into the given err) ------------- */

/* Typed optional fields: absent leaves *out alone and returns 0; wrong type is
 * -EINVAL with "field 'mtu' must be an integer". */
int cni_conf_bool(const json_t *obj, const char *key, bool *out, struct netd_err *err);
int cni_conf_int(const json_t *obj, const char *key, long long min, long long max,
		 long long *out, struct netd_err *err);
int cni_conf_str(const json_t *obj, const char *key, const char **out, struct netd_err *err);

/* Is capability `cap` present in runtimeConfig? Returns the value or NULL. */
json_t *cni_runtime_cap(const struct cni_ctx *ctx, const char *cap);

/* ---- delegation -------------------------------------------------------- */

#define CNI_EXEC_TIMEOUT_MS 60000

/* The one way a plugin is run by exec, for delegating plugins and for
 * netdctl's runtime role alike: find `type` on `cni_path`, run it with `envp`
 * (which carries CNI_COMMAND and the other CNI_* variables) and `config` on
 * stdin, kill it after timeout_ms (0 = CNI_EXEC_TIMEOUT_MS; then code 11).
 * On success *reply (if asked for) gets the JSON object it printed, or NULL
 * when it printed nothing. A plugin that fails has its error object carried
 * into err: its code, "<type> <command>: <msg>", its details. The caller
 * ignores SIGPIPE (cni_main does), as a plugin may exit without reading. */
int cni_exec(const char *cni_path, const char *type, char *const *envp, const json_t *config,
	     json_t **reply, int timeout_ms, struct netd_err *err);

/* cni_exec for a plugin calling another (IPAM, chained): the same env as
 * ctx with CNI_COMMAND set to `cmd`, CNI_PATH from ctx. For ADD, *out gets
 * the parsed result (converted from the delegate's version). */
int cni_delegate(const struct cni_ctx *ctx, const char *type, enum cni_command cmd,
		 const json_t *config, struct cni_result **out, int timeout_ms,
		 struct netd_err *err);

/* Run plugin p's handler for `cmd` in this process, on ctx's config,
 * environment, container and ifname, as if p's binary had been exec'd with
 * them: the same contract as cni_delegate without the exec. For ADD, *out
 * gets the result (caller frees). An error lands in err as "<name> <CMD>:
 * <message>" with the handler's code; ctx is not changed. Returns 0, or 1
 * when an ADD handler said its result is what the attachment already held
 * (ctx->unchanged): nothing was reserved or created by this call. */
int cni_invoke(const struct cni_ctx *ctx, const struct cni_plugin *p, enum cni_command cmd,
	       struct cni_result **out, struct netd_err *err);

/* Find `type` on CNI_PATH; writes the full path. -ENOENT if absent, -EINVAL
 * if the name is not a plain file name. */
int cni_find_plugin(const char *cni_path, const char *type, char *out, size_t len);

/* ---- errors ------------------------------------------------------------ */

/* {"cniVersion":v,"code":c,"msg":m[,"details":d]} */
json_t *cni_error_json(const char *version, const struct netd_err *err);

#endif
