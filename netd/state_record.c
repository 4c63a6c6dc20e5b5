/* state_record.c — what netd stores, validated: an endpoint or network
 * record from an API body (or, stored=true, from the disk), in the canonical
 * compact JSON that is persisted and served. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "netd/addr.h"
#include "netd/portmap.h"
#include "state_int.h"

int netd_ep_id(char *buf, size_t size, const char *network, const char *cid, const char *ifname)
{
	int n = snprintf(buf, size, "%s:%s:%s", network, cid, ifname);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- validation --------------------------------------------------------- */

static int want_string(const json_t *v, const char *field, struct netd_err *err)
{
	if (!json_is_string(v))
		return netd_err_invalid(err, "field '%s' must be a string", field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return netd_err_invalid(err, "field '%s' must not contain NUL", field);
	return 0;
}

/* A required string field of body. */
static int need_string(const json_t *body, const char *field, const char **out, struct netd_err *err)
{
	const json_t *v = json_object_get(body, field);
	int rc;

	*out = NULL; /* set on every path: gcc -O3 cannot tell that the error return is negative */
	if (!v)
		return netd_err_invalid(err, "field '%s' is required", field);
	if ((rc = want_string(v, field, err)) < 0)
		return rc;
	*out = json_string_value(v);
	return 0;
}

/* A required field holding a network (or endpoint) name. */
static int need_name(const json_t *body, const char *field, const char **out, struct netd_err *err)
{
	int rc = need_string(body, field, out, err);

	if (rc == 0 && !netd_name_valid(*out))
		return netd_err_invalid(err, "field '%s' must match " NETD_NAME_RULE, field);
	return rc;
}

static int check_name_list(const json_t *v, const char *field, struct netd_err *err)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return netd_err_invalid(err, "field '%s' must be an array of names", field);
	if (json_array_size(v) > 256)
		return netd_err_invalid(err, "field '%s' has more than 256 entries", field);
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || !netd_name_valid(json_string_value(e)))
			return netd_err_invalid(err, "%s[%zu]: not a valid name (" NETD_NAME_RULE ")", field, i);
	}
	return 0;
}

static int check_ips(const json_t *v, struct netd_err *err)
{
	size_t i;
	json_t *e;
	struct netd_prefix p;

	if (!json_is_array(v) || json_array_size(v) > 64)
		return netd_err_invalid(err, "field '%s' must be an array of at most 64 addresses", "ips");
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || netd_prefix_parse(json_string_value(e), &p) < 0)
			return netd_err_invalid(err, "ips[%zu]: not an address with prefix length (like 10.88.0.2/16)",
						i);
	}
	return 0;
}

static int check_int(const json_t *o, const char *key, long long min, long long max, bool required,
		     const char *ctx, struct netd_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return required ? netd_err_invalid(err, "%s: field '%s' is required", ctx, key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return netd_err_invalid(err, "%s: field '%s' must be an integer in %lld..%lld", ctx, key, min, max);
	return 0;
}

static int check_only_keys(const json_t *o, const char *const *keys, const char *ctx, struct netd_err *err)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		size_t i;

		for (i = 0; keys[i]; i++)
			if (!strcmp(k, keys[i]))
				break;
		if (!keys[i])
			return netd_err_invalid(err, "%sunknown field '%.64s'", ctx, k);
	}
	return 0;
}

/* A body is an object with only `keys`; the two fields netd sets itself (a, b)
 * only in stored records. */
static int check_body(const json_t *body, const char *const *keys, bool stored, const char *a, const char *b,
		      struct netd_err *err)
{
	int rc;

	if (!json_is_object(body))
		return netd_err_invalid(err, "body must be a JSON object");
	if ((rc = check_only_keys(body, keys, "", err)) < 0)
		return rc;
	if (!stored && (json_object_get(body, a) || json_object_get(body, b)))
		return netd_err_invalid(err, "fields '%s' and '%s' are set by netd", a, b);
	return 0;
}

/* An optional "protocol": tcp, udp or sctp, the names lib/portmap knows. */
static int check_proto(const json_t *e, const char *ctx, struct netd_err *err)
{
	const json_t *p = json_object_get(e, "protocol");
	uint8_t proto;

	if (p && (!json_is_string(p) || netd_proto_parse(json_string_value(p), &proto) < 0))
		return netd_err_invalid(err, "%s: protocol must be tcp, udp or sctp", ctx);
	return 0;
}

/* {"nameservers": ["10.0.0.53", ...]}: the resolver's upstreams for this
 * endpoint's network (netd-endpoint sends the network's dns.nameservers). */
static int check_dns(const json_t *v, struct netd_err *err)
{
	static const char *const keys[] = {"nameservers", NULL};
	struct netd_addr a;
	json_t *ns, *e;
	size_t i;
	int rc;

	if (!json_is_object(v))
		return netd_err_invalid(err, "field '%s' must be an object", "dns");
	if ((rc = check_only_keys(v, keys, "dns.", err)) < 0)
		return rc;
	ns = json_object_get(v, "nameservers");
	if (ns && (!json_is_array(ns) || json_array_size(ns) > 16))
		return netd_err_invalid(err, "field '%s' must be an array of at most 16 addresses", "dns.nameservers");
	json_array_foreach(ns, i, e) {
		if (!json_is_string(e) || netd_addr_parse(json_string_value(e), &a) < 0)
			return netd_err_invalid(err, "dns.nameservers[%zu]: not an IP address", i);
	}
	return 0;
}

/* A list of objects: an array of at most `max` entries, each an object with
 * only `keys`, each then checked by item() with its place ("links[2]") for
 * messages. */
struct obj_list {
	const char *field, *noun;	/* "... must be an array of at most 256 links" */
	size_t max;
	const char *shape;		/* the object as the message shows it, or "" */
	const char *const *keys;
	int (*item)(const json_t *e, const char *ctx, struct netd_err *err);
};

static int check_obj_list(const json_t *v, const struct obj_list *l, struct netd_err *err)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > l->max)
		return netd_err_invalid(err, "field '%s' must be an array of at most %zu %s", l->field, l->max, l->noun);
	json_array_foreach(v, i, e) {
		char ctx[48], keys_ctx[52];
		int rc;

		snprintf(ctx, sizeof(ctx), "%s[%zu]", l->field, i);
		if (!json_is_object(e))
			return netd_err_invalid(err, "%s: must be an object%s", ctx, l->shape);
		snprintf(keys_ctx, sizeof(keys_ctx), "%s: ", ctx);
		if ((rc = check_only_keys(e, l->keys, keys_ctx, err)) < 0 || (rc = l->item(e, ctx, err)) < 0)
			return rc;
	}
	return 0;
}

/* Docker's EXPOSE: [{"port": 3306, "protocol": "tcp"}]; what a link may reach. */
static int check_expose_item(const json_t *e, const char *ctx, struct netd_err *err)
{
	int rc = check_int(e, "port", 1, 65535, true, ctx, err);

	return rc < 0 ? rc : check_proto(e, ctx, err);
}

static const struct obj_list expose_list = {
	.field = "expose", .noun = "ports", .max = 1024, .shape = " {\"port\":..., \"protocol\":...}",
	.keys = (const char *const[]){"port", "protocol", NULL}, .item = check_expose_item,
};

static int check_port_item(const json_t *e, const char *ctx, struct netd_err *err)
{
	const json_t *p = json_object_get(e, "hostIP");
	struct netd_addr a;
	int rc;

	if ((rc = check_int(e, "hostPort", 1, 65535, true, ctx, err)) < 0 ||
	    (rc = check_int(e, "containerPort", 1, 65535, true, ctx, err)) < 0 ||
	    (rc = check_proto(e, ctx, err)) < 0)
		return rc;
	if (p && (!json_is_string(p) || (json_string_length(p) && netd_addr_parse(json_string_value(p), &a) < 0)))
		return netd_err_invalid(err, "%s: hostIP must be an IP address", ctx);
	return 0;
}

static const struct obj_list ports_list = {
	.field = "portMappings", .noun = "mappings", .max = 65536, .shape = "",
	.keys = (const char *const[]){"hostPort", "containerPort", "protocol", "hostIP", NULL}, .item = check_port_item,
};

static int check_link_item(const json_t *e, const char *ctx, struct netd_err *err)
{
	const json_t *a = json_object_get(e, "name");

	if (!json_is_string(a) || !netd_name_valid(json_string_value(a)))
		return netd_err_invalid(err, "%s: name must be a valid container name", ctx);
	a = json_object_get(e, "alias");
	if (a && (!json_is_string(a) || !netd_name_valid(json_string_value(a))))
		return netd_err_invalid(err, "%s: alias must be a valid name", ctx);
	return 0;
}

static const struct obj_list links_list = {
	.field = "links", .noun = "links", .max = 256, .shape = " {\"name\":..., \"alias\":...}",
	.keys = (const char *const[]){"name", "alias", NULL}, .item = check_link_item,
};

/* One block for the record and its strings: netd keeps 10,000 and more, and
 * every malloc chunk carries its own overhead. */
struct netd_ep *state_ep_new(const char *const f[6], const size_t flen[6], const char *json, size_t jlen)
{
	size_t total = sizeof(struct netd_ep) + jlen + 1;
	struct netd_ep *ep;
	char *p;

	for (int i = 0; i < 6; i++)
		total += flen[i] + 1;
	if (!(ep = calloc(1, total)))
		return NULL;
	char **dst[6] = {&ep->id, &ep->container_id, &ep->name, &ep->network, &ep->ifname, &ep->netns};
	p = (char *)(ep + 1);
	for (int i = 0; i < 6; i++) {
		memcpy(p, f[i], flen[i]);
		p[flen[i]] = 0;
		*dst[i] = p;
		p += flen[i] + 1;
	}
	memcpy(p, json, jlen);
	p[jlen] = 0;
	ep->json = p;
	return ep;
}

void netd_ep_free(struct netd_ep *ep)
{
	free(ep);
}

static void now_rfc3339(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A stored record's "created", or now for a new one. */
static int created_of(const json_t *body, char created[32], struct netd_err *err)
{
	const json_t *v = json_object_get(body, "created");

	if (v && (!json_is_string(v) || json_string_length(v) >= 32))
		return netd_err_invalid(err, "field '%s' must be a timestamp", "created");
	if (v)
		snprintf(created, 32, "%s", json_string_value(v));
	else
		now_rfc3339(created, 32);
	return 0;
}

int state_ep_parse(const json_t *body, bool stored, struct netd_ep **out, struct netd_err *err)
{
	static const char *const keys[] = {"containerID", "name", "netns", "network", "ifname", "ips",
					   "mac", "aliases", "portMappings", "links", "expose", "dns", "id", "created",
					   NULL};
	const char *cid, *net, *ifname = "eth0", *name = "", *netns;
	json_t *v, *rec = NULL;
	struct netd_ep *ep = NULL;
	char id[256], created[32], *js;
	uint8_t mac[6];
	int rc;

	if ((rc = check_body(body, keys, stored, "id", "created", err)) < 0)
		return rc;

	if ((rc = need_string(body, "containerID", &cid, err)) < 0)
		return rc;
	if (!netd_cid_valid(cid))
		return netd_err_invalid(err, "field '%s' must match " NETD_CID_RULE, "containerID");
	if ((rc = need_name(body, "network", &net, err)) < 0)
		return rc;
	if ((rc = need_string(body, "netns", &netns, err)) < 0)
		return rc;
	if (netns[0] != '/' || strlen(netns) >= PATH_MAX || strstr(netns, "/../") ||
	    (strlen(netns) >= 3 && !strcmp(netns + strlen(netns) - 3, "/..")))
		return netd_err_invalid(err, "field '%s' must be an absolute path without '..'", "netns");

	if ((v = json_object_get(body, "ifname"))) {
		if ((rc = want_string(v, "ifname", err)) < 0)
			return rc;
		if (!netd_ifname_valid(ifname = json_string_value(v)))
			return netd_err_invalid(err, "field '%s' is not a valid interface name", "ifname");
	}
	if ((v = json_object_get(body, "name"))) {
		if ((rc = want_string(v, "name", err)) < 0)
			return rc;
		name = json_string_value(v);
		if (*name && !netd_name_valid(name))
			return netd_err_invalid(err, "field '%s' must match " NETD_NAME_RULE, "name");
	}
	if ((v = json_object_get(body, "mac"))) {
		if ((rc = want_string(v, "mac", err)) < 0)
			return rc;
		if (json_string_length(v) && netd_mac_parse(json_string_value(v), mac) < 0)
			return netd_err_invalid(err, "field '%s' is not a MAC address", "mac");
	}
	if ((v = json_object_get(body, "ips")) && (rc = check_ips(v, err)) < 0)
		return rc;
	if ((v = json_object_get(body, "aliases")) && (rc = check_name_list(v, "aliases", err)) < 0)
		return rc;
	if ((v = json_object_get(body, "portMappings")) && (rc = check_obj_list(v, &ports_list, err)) < 0)
		return rc;
	if ((v = json_object_get(body, "links")) && (rc = check_obj_list(v, &links_list, err)) < 0)
		return rc;
	if ((v = json_object_get(body, "dns")) && (rc = check_dns(v, err)) < 0)
		return rc;
	if ((v = json_object_get(body, "expose")) && (rc = check_obj_list(v, &expose_list, err)) < 0)
		return rc;
	if (netd_ep_id(id, sizeof(id), net, cid, ifname) < 0)
		return netd_err_invalid(err, "%s: endpoint id too long", "containerID");
	if (stored) {
		v = json_object_get(body, "id");
		if (!json_is_string(v) || strcmp(json_string_value(v), id))
			return netd_err_invalid(err, "stored record's id does not match its fields (%s)", id);
	}
	if ((rc = created_of(body, created, err)) < 0)
		return rc;

	/* The canonical record: every field present, in one order. */
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "containerID", cid,
			"name", name, "network", net, "ifname", ifname, "netns", netns,
			"mac", (v = json_object_get(body, "mac")) ? json_string_value(v) : "", "created", created);
	if (!rec)
		goto nomem;
	static const char *const lists[] = {"ips", "aliases", "portMappings", "links"};
	for (size_t i = 0; i < 4; i++) {
		v = json_object_get(body, lists[i]);
		if (json_object_set_new(rec, lists[i], v ? json_deep_copy(v) : json_array()) < 0)
			goto nomem;
	}
	/* exposed ports (what links may reach on icc=false networks): only when given */
	v = json_object_get(body, "expose");
	if (json_array_size(v) && json_object_set_new(rec, "expose", json_deep_copy(v)) < 0)
		goto nomem;
	/* the network's upstream servers for the resolver: only when given */
	v = json_object_get(json_object_get(body, "dns"), "nameservers");
	if (json_array_size(v) && json_object_set_new(rec, "dns", json_pack("{s:O}", "nameservers", v)) < 0)
		goto nomem;
	js = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(rec);
	const char *f[6] = {id, cid, name, net, ifname, netns};
	size_t flen[6];
	for (int i = 0; i < 6; i++)
		flen[i] = strlen(f[i] = f[i] ? f[i] : "");
	ep = js ? state_ep_new(f, flen, js, strlen(js)) : NULL;
	free(js);
	if (!ep)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	*out = ep;
	return 0;
nomem:
	json_decref(rec);
	return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
}

int netd_ep_from_json(const json_t *body, struct netd_ep **out, struct netd_err *err)
{
	return state_ep_parse(body, false, out, err);
}

void netd_net_free(struct netd_net *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->json);
	free(n);
}

int state_net_parse(const json_t *body, bool stored, struct netd_net **out, struct netd_err *err)
{
	static const char *const keys[] = {"name", "driver", "subnets", "options", "created", "implicit", NULL};
	const char *name, *driver = "bridge", *k;
	json_t *v, *e, *rec;
	struct netd_net *n;
	char created[32];
	size_t i;
	int rc;

	if ((rc = check_body(body, keys, stored, "created", "implicit", err)) < 0)
		return rc;
	if ((rc = need_name(body, "name", &name, err)) < 0)
		return rc;
	if ((v = json_object_get(body, "driver"))) {
		if ((rc = want_string(v, "driver", err)) < 0)
			return rc;
		driver = json_string_value(v);
		if (*driver && !netd_name_valid(driver))
			return netd_err_invalid(err, "field '%s' must be a driver name like bridge or macvlan", "driver");
	}
	if ((v = json_object_get(body, "subnets"))) {
		struct netd_prefix p;

		if (!json_is_array(v) || json_array_size(v) > 64)
			return netd_err_invalid(err, "field '%s' must be an array of at most 64 subnets", "subnets");
		json_array_foreach(v, i, e)
			if (!json_is_string(e) || netd_prefix_parse(json_string_value(e), &p) < 0)
				return netd_err_invalid(err, "subnets[%zu]: not a subnet (like 10.89.0.0/24)", i);
	}
	if ((v = json_object_get(body, "options"))) {
		if (!json_is_object(v) || json_object_size(v) > 64)
			return netd_err_invalid(err, "field '%s' must be an object of at most 64 strings", "options");
		json_object_foreach(v, k, e)
			if (!json_is_string(e) || strlen(k) > 64 || json_string_length(e) > 1024)
				return netd_err_invalid(err, "options: '%.64s' must be a string "
							"(keys up to 64, values up to 1024 bytes)", k);
	}
	if ((v = json_object_get(body, "implicit")) && !json_is_boolean(v))
		return netd_err_invalid(err, "field '%s' must be a boolean", "implicit");
	if ((rc = created_of(body, created, err)) < 0)
		return rc;

	rec = json_pack("{s:s, s:s, s:O?, s:O?, s:s, s:b}", "name", name, "driver", driver,
			"subnets", json_object_get(body, "subnets"), "options", json_object_get(body, "options"),
			"created", created, "implicit", json_is_true(json_object_get(body, "implicit")));
	if (!rec)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	if (json_is_null(json_object_get(rec, "subnets")))
		json_object_set_new(rec, "subnets", json_array());
	if (json_is_null(json_object_get(rec, "options")))
		json_object_set_new(rec, "options", json_object());
	n = calloc(1, sizeof(*n));
	if (n) {
		n->name = strdup(name);
		n->implicit = json_is_true(json_object_get(rec, "implicit"));
		n->json = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	json_decref(rec);
	if (!n || !n->name || !n->json) {
		netd_net_free(n);
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	}
	*out = n;
	return 0;
}

int netd_net_from_json(const json_t *body, struct netd_net **out, struct netd_err *err)
{
	return state_net_parse(body, false, out, err);
}
