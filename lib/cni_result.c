/* CNI results: the internal form (spec 1.1.0) and its JSON in every version. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netd/cni.h"

const char *const cni_supported_versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL};

static int parse_version(const char *s, int v[3])
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		long x = strtol(s, &end, 10);
		if (x > 1000)
			return -EINVAL;
		v[i] = (int)x;
		if (i < 2 && *end != '.')
			return -EINVAL;
		s = end + (i < 2);
	}
	return *end ? -EINVAL : 0;
}

int cni_version_cmp(const char *a, const char *b)
{
	int va[3], vb[3];
	int ea = parse_version(a, va), eb = parse_version(b, vb);

	if (ea || eb)
		return ea && eb ? 0 : (ea ? -1 : 1);
	for (int i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}

bool cni_version_supported(const char *v)
{
	for (int i = 0; v && cni_supported_versions[i]; i++)
		if (!strcmp(v, cni_supported_versions[i]))
			return true;
	return false;
}

struct cni_result *cni_result_new(void)
{
	return calloc(1, sizeof(struct cni_result));
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void dns_clear(struct cni_dns *d)
{
	strv_free(d->nameservers, d->n_nameservers);
	strv_free(d->search, d->n_search);
	strv_free(d->options, d->n_options);
	free(d->domain);
	memset(d, 0, sizeof(*d));
}

void cni_result_free(struct cni_result *r)
{
	if (!r)
		return;
	free(r->ifaces);
	free(r->ips);
	free(r->routes);
	dns_clear(&r->dns);
	free(r);
}

/* Grow an array by one element of `size` bytes; returns the new index. */
static int push(void **arr, size_t *n, size_t size, const void *elem)
{
	void *p = realloc(*arr, (*n + 1) * size);

	if (!p)
		return -ENOMEM;
	memcpy((char *)p + *n * size, elem, size);
	*arr = p;
	return (int)(*n)++;
}

int cni_result_add_iface(struct cni_result *r, const struct cni_iface *i)
{
	return push((void **)&r->ifaces, &r->n_ifaces, sizeof(*i), i);
}

int cni_result_add_ip(struct cni_result *r, const struct cni_ip *ip)
{
	return push((void **)&r->ips, &r->n_ips, sizeof(*ip), ip);
}

int cni_result_add_route(struct cni_result *r, const struct cni_route *rt)
{
	return push((void **)&r->routes, &r->n_routes, sizeof(*rt), rt);
}

int cni_dns_add(char ***list, size_t *n, const char *s)
{
	char *dup;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i], s))
			return 0;
	dup = strdup(s);
	if (!dup || push((void **)list, n, sizeof(char *), &dup) < 0) {
		free(dup);
		return -ENOMEM;
	}
	return 0;
}

int cni_dns_merge(struct cni_dns *dst, const struct cni_dns *src)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < src->n_nameservers; i++)
		rc = cni_dns_add(&dst->nameservers, &dst->n_nameservers, src->nameservers[i]);
	for (size_t i = 0; !rc && i < src->n_search; i++)
		rc = cni_dns_add(&dst->search, &dst->n_search, src->search[i]);
	for (size_t i = 0; !rc && i < src->n_options; i++)
		rc = cni_dns_add(&dst->options, &dst->n_options, src->options[i]);
	if (!rc && src->domain && !dst->domain && !(dst->domain = strdup(src->domain)))
		rc = -ENOMEM;
	return rc;
}

struct cni_result *cni_result_dup(const struct cni_result *r)
{
	struct cni_result *d = cni_result_new();

	if (!d)
		return NULL;
	for (size_t i = 0; i < r->n_ifaces; i++)
		if (cni_result_add_iface(d, &r->ifaces[i]) < 0)
			goto fail;
	for (size_t i = 0; i < r->n_ips; i++)
		if (cni_result_add_ip(d, &r->ips[i]) < 0)
			goto fail;
	for (size_t i = 0; i < r->n_routes; i++)
		if (cni_result_add_route(d, &r->routes[i]) < 0)
			goto fail;
	if (cni_dns_merge(&d->dns, &r->dns) < 0)
		goto fail;
	return d;
fail:
	cni_result_free(d);
	return NULL;
}

int cni_result_find_iface(const struct cni_result *r, const char *ifname, bool in_sandbox)
{
	for (size_t i = 0; r && i < r->n_ifaces; i++)
		if (!strcmp(r->ifaces[i].name, ifname) && (!in_sandbox || r->ifaces[i].sandbox[0]))
			return (int)i;
	return -1;
}

/* ---- JSON -> internal ---- */

/* "result: <what> <problem>" as a decode error. */
static int bad(struct netd_err *err, const char *what, const char *problem)
{
	return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: %s %s", what, problem);
}

static int get_str(const json_t *o, const char *key, const char **out, const char *where, struct netd_err *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: %s.%s must be a string", where, key);
	*out = json_string_value(v);
	return 0;
}

static int copy_str(char *dst, size_t len, const char *s, const char *what, struct netd_err *err)
{
	if (!s)
		return 0;
	if (strlen(s) >= len)
		return bad(err, what, "is too long");
	strcpy(dst, s);
	return 0;
}

static int get_intf(const json_t *o, const char *key, int *out, const char *where, struct netd_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > 0x7fffffff)
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: %s.%s must be an integer", where, key);
	*out = (int)json_integer_value(v);
	return 0;
}

static int parse_strv(const json_t *o, const char *key, char ***list, size_t *n, struct netd_err *err)
{
	json_t *arr = json_object_get(o, key), *v;
	size_t i;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: dns.%s must be a list of strings", key);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: dns.%s must be a list of strings",
					    key);
		if (cni_dns_add(list, n, json_string_value(v)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int parse_ifaces(const json_t *arr, struct cni_result *r, struct netd_err *err)
{
	json_t *o;
	size_t i;

	if (!json_is_array(arr))
		return bad(err, "interfaces", "must be a list");
	json_array_foreach(arr, i, o) {
		struct cni_iface f = {0};
		const char *name, *mac, *sb, *sock, *pci;

		if (!json_is_object(o))
			return bad(err, "interfaces", "must be objects");
		if (get_str(o, "name", &name, "interfaces[]", err) || get_str(o, "mac", &mac, "interfaces[]", err) ||
		    get_str(o, "sandbox", &sb, "interfaces[]", err) ||
		    get_str(o, "socketPath", &sock, "interfaces[]", err) ||
		    get_str(o, "pciID", &pci, "interfaces[]", err) || get_intf(o, "mtu", &f.mtu, "interfaces[]", err))
			return -EINVAL;
		if (!name || !*name)
			return bad(err, "interfaces[]", "needs a name");
		if (copy_str(f.name, sizeof(f.name), name, "interface name", err) ||
		    copy_str(f.mac, sizeof(f.mac), mac, "interface mac", err) ||
		    copy_str(f.sandbox, sizeof(f.sandbox), sb, "interface sandbox", err) ||
		    copy_str(f.socket_path, sizeof(f.socket_path), sock, "interface socketPath", err) ||
		    copy_str(f.pci_id, sizeof(f.pci_id), pci, "interface pciID", err))
			return -EINVAL;
		if (cni_result_add_iface(r, &f) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int parse_ips(const json_t *arr, struct cni_result *r, struct netd_err *err)
{
	json_t *o;
	size_t i;

	if (!json_is_array(arr))
		return bad(err, "ips", "must be a list");
	json_array_foreach(arr, i, o) {
		struct cni_ip ip = {.iface = -1};
		const char *addr, *gw;

		if (!json_is_object(o))
			return bad(err, "ips", "must be objects");
		if (get_str(o, "address", &addr, "ips[]", err) || get_str(o, "gateway", &gw, "ips[]", err) ||
		    get_intf(o, "interface", &ip.iface, "ips[]", err))
			return -EINVAL;
		if (!addr || netd_prefix_parse(addr, &ip.address) < 0)
			return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: ips[].address '%s' is not an address/prefix",
					    addr ? addr : "(missing)");
		if (gw && netd_addr_parse(gw, &ip.gateway) < 0)
			return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: ips[].gateway '%s' is not an address", gw);
		if (ip.iface >= (int)r->n_ifaces)
			return netd_err_set(err, -EINVAL, CNI_ERR_DECODE,
					    "result: ips[].interface %d is out of range (%zu interfaces)", ip.iface,
					    r->n_ifaces);
		if (cni_result_add_ip(r, &ip) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int parse_routes(const json_t *arr, struct cni_result *r, struct netd_err *err)
{
	json_t *o;
	size_t i;

	if (!json_is_array(arr))
		return bad(err, "routes", "must be a list");
	json_array_foreach(arr, i, o) {
		struct cni_route rt = {.scope = -1};
		const char *dst, *gw;

		if (!json_is_object(o))
			return bad(err, "routes", "must be objects");
		if (get_str(o, "dst", &dst, "routes[]", err) || get_str(o, "gw", &gw, "routes[]", err) ||
		    get_intf(o, "mtu", &rt.mtu, "routes[]", err) || get_intf(o, "advmss", &rt.advmss, "routes[]", err) ||
		    get_intf(o, "priority", &rt.priority, "routes[]", err) ||
		    get_intf(o, "table", &rt.table, "routes[]", err) || get_intf(o, "scope", &rt.scope, "routes[]", err))
			return -EINVAL;
		if (!dst || netd_prefix_parse(dst, &rt.dst) < 0)
			return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: routes[].dst '%s' is not a prefix",
					    dst ? dst : "(missing)");
		if (gw && netd_addr_parse(gw, &rt.gw) < 0)
			return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result: routes[].gw '%s' is not an address", gw);
		if (cni_result_add_route(r, &rt) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cni_result_from_json(const json_t *j, const char *version, struct cni_result **out, struct netd_err *err)
{
	struct cni_result *r;
	const char *v = json_string_value(json_object_get(j, "cniVersion"));
	json_t *x;
	int rc = 0;

	*out = NULL;
	if (!json_is_object(j))
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "result is not a JSON object");
	if (!v)
		v = version;
	if (!cni_version_supported(v))
		return netd_err_set(err, -EINVAL, CNI_ERR_INCOMPATIBLE_VERSION,
				    "result has unsupported cniVersion '%s'", v ? v : "(none)");
	r = cni_result_new();
	if (!r)
		return -ENOMEM;
	if ((x = json_object_get(j, "interfaces")) && !json_is_null(x))
		rc = parse_ifaces(x, r, err);
	if (!rc && (x = json_object_get(j, "ips")) && !json_is_null(x))
		rc = parse_ips(x, r, err);
	if (!rc && (x = json_object_get(j, "routes")) && !json_is_null(x))
		rc = parse_routes(x, r, err);
	if (!rc && (x = json_object_get(j, "dns")) && !json_is_null(x)) {
		const char *domain;

		if (!json_is_object(x))
			rc = bad(err, "dns", "must be an object");
		if (!rc)
			rc = parse_strv(x, "nameservers", &r->dns.nameservers, &r->dns.n_nameservers, err);
		if (!rc)
			rc = parse_strv(x, "search", &r->dns.search, &r->dns.n_search, err);
		if (!rc)
			rc = parse_strv(x, "options", &r->dns.options, &r->dns.n_options, err);
		if (!rc)
			rc = get_str(x, "domain", &domain, "dns", err);
		if (!rc && domain && !(r->dns.domain = strdup(domain)))
			rc = -ENOMEM;
	}
	if (rc) {
		if (rc == -ENOMEM)
			netd_err_set(err, rc, NETD_ERR_INTERNAL, "out of memory parsing result");
		cni_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* ---- internal -> JSON ---- */

static json_t *strv_json(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void set_str_nonempty(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

json_t *cni_result_to_json(const struct cni_result *r, const char *version)
{
	bool v11 = cni_version_cmp(version, "1.1.0") >= 0;
	bool v10 = cni_version_cmp(version, "1.0.0") >= 0;
	char buf[NETD_PREFIX_STRLEN];
	json_t *j = json_object();

	json_object_set_new(j, "cniVersion", json_string(version));
	if (r->n_ifaces) {
		json_t *a = json_array();

		for (size_t i = 0; i < r->n_ifaces; i++) {
			const struct cni_iface *f = &r->ifaces[i];
			json_t *o = json_object();

			json_object_set_new(o, "name", json_string(f->name));
			set_str_nonempty(o, "mac", f->mac);
			if (v11 && f->mtu)
				json_object_set_new(o, "mtu", json_integer(f->mtu));
			set_str_nonempty(o, "sandbox", f->sandbox);
			if (v11) {
				set_str_nonempty(o, "socketPath", f->socket_path);
				set_str_nonempty(o, "pciID", f->pci_id);
			}
			json_array_append_new(a, o);
		}
		json_object_set_new(j, "interfaces", a);
	}
	if (r->n_ips) {
		json_t *a = json_array();

		for (size_t i = 0; i < r->n_ips; i++) {
			const struct cni_ip *ip = &r->ips[i];
			json_t *o = json_object();

			if (!v10)
				json_object_set_new(o, "version",
						    json_string(ip->address.addr.family == AF_INET ? "4" : "6"));
			if (ip->iface >= 0)
				json_object_set_new(o, "interface", json_integer(ip->iface));
			json_object_set_new(o, "address", json_string(netd_prefix_str(&ip->address, buf)));
			if (ip->gateway.family)
				json_object_set_new(o, "gateway", json_string(netd_addr_str(&ip->gateway, buf)));
			json_array_append_new(a, o);
		}
		json_object_set_new(j, "ips", a);
	}
	if (r->n_routes) {
		json_t *a = json_array();

		for (size_t i = 0; i < r->n_routes; i++) {
			const struct cni_route *rt = &r->routes[i];
			json_t *o = json_object();

			json_object_set_new(o, "dst", json_string(netd_prefix_str(&rt->dst, buf)));
			if (rt->gw.family)
				json_object_set_new(o, "gw", json_string(netd_addr_str(&rt->gw, buf)));
			if (v11) {
				if (rt->mtu)
					json_object_set_new(o, "mtu", json_integer(rt->mtu));
				if (rt->advmss)
					json_object_set_new(o, "advmss", json_integer(rt->advmss));
				if (rt->priority)
					json_object_set_new(o, "priority", json_integer(rt->priority));
				if (rt->table)
					json_object_set_new(o, "table", json_integer(rt->table));
				if (rt->scope >= 0)
					json_object_set_new(o, "scope", json_integer(rt->scope));
			}
			json_array_append_new(a, o);
		}
		json_object_set_new(j, "routes", a);
	}
	if (r->dns.n_nameservers || r->dns.domain || r->dns.n_search || r->dns.n_options) {
		json_t *d = json_object();

		if (r->dns.n_nameservers)
			json_object_set_new(d, "nameservers", strv_json(r->dns.nameservers, r->dns.n_nameservers));
		set_str_nonempty(d, "domain", r->dns.domain);
		if (r->dns.n_search)
			json_object_set_new(d, "search", strv_json(r->dns.search, r->dns.n_search));
		if (r->dns.n_options)
			json_object_set_new(d, "options", strv_json(r->dns.options, r->dns.n_options));
		json_object_set_new(j, "dns", d);
	}
	return j;
}
