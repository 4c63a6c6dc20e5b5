/* state.c — networks and endpoints in memory, one small file each on disk.
 *
 * Why one file per record: a registration must be on disk before it is
 * acknowledged, and rewriting one big file per request would cost O(n) at
 * 10,000 endpoints. Each write is write-temp + fsync + rename + fsync(dir),
 * so after a crash a record is either the old or the new one, never torn.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "netd/addr.h"

#define EP_DIR "endpoints"
#define NET_DIR "networks"

/* ---- names -------------------------------------------------------------- */

static bool name_chars_valid(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !isalnum((unsigned char)s[0]))
		return false;
	for (; s[n]; n++) {
		unsigned char c = s[n];

		if (n >= max)
			return false;
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

bool netd_name_valid(const char *s)
{
	return name_chars_valid(s, 64);
}

bool netd_cid_valid(const char *s)
{
	return name_chars_valid(s, 128);
}

bool netd_ifname_valid(const char *s)
{
	size_t n;

	if (!s || !(n = strlen(s)) || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || (unsigned char)*s < 0x20)
			return false;
	return true;
}

int netd_ep_id(char *buf, size_t size, const char *network, const char *cid, const char *ifname)
{
	int n = snprintf(buf, size, "%s:%s:%s", network, cid, ifname);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- validation --------------------------------------------------------- */

static int bad(struct netd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct netd_err *err, const char *fmt, ...)
{
	char msg[NETD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return netd_err_set(err, -EINVAL, 400, "%s", msg);
}

static int want_string(const json_t *v, const char *field, struct netd_err *err)
{
	if (!json_is_string(v))
		return bad(err, "field '%s' must be a string", field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, "field '%s' must not contain NUL", field);
	return 0;
}

static int check_name_list(const json_t *v, const char *field, struct netd_err *err)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return bad(err, "field '%s' must be an array of names", field);
	if (json_array_size(v) > 256)
		return bad(err, "field '%s' has more than 256 entries", field);
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || !netd_name_valid(json_string_value(e)))
			return netd_err_set(err, -EINVAL, 400, "%s[%zu]: not a valid name "
					    "([A-Za-z0-9][A-Za-z0-9_.-]{0,63})", field, i);
	}
	return 0;
}

static int check_ips(const json_t *v, struct netd_err *err)
{
	size_t i;
	json_t *e;
	struct netd_prefix p;

	if (!json_is_array(v) || json_array_size(v) > 64)
		return bad(err, "field '%s' must be an array of at most 64 addresses", "ips");
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || netd_prefix_parse(json_string_value(e), &p) < 0)
			return netd_err_set(err, -EINVAL, 400, "ips[%zu]: not an address with prefix length "
					    "(like 10.88.0.2/16)", i);
	}
	return 0;
}

static int check_int(const json_t *o, const char *key, long long min, long long max, bool required,
		     const char *ctx, struct netd_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return required ? netd_err_set(err, -EINVAL, 400, "%s: field '%s' is required", ctx, key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return netd_err_set(err, -EINVAL, 400, "%s: field '%s' must be an integer in %lld..%lld",
				    ctx, key, min, max);
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
			return netd_err_set(err, -EINVAL, 400, "%sunknown field '%.64s'", ctx, k);
	}
	return 0;
}

static int check_ports(const json_t *v, struct netd_err *err)
{
	static const char *const keys[] = {"hostPort", "containerPort", "protocol", "hostIP", NULL};
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > 1024)
		return bad(err, "field '%s' must be an array of at most 1024 mappings", "portMappings");
	json_array_foreach(v, i, e) {
		char ctx[32];
		json_t *p;
		struct netd_addr a;
		int rc;

		snprintf(ctx, sizeof(ctx), "portMappings[%zu]", i);
		if (!json_is_object(e))
			return bad(err, "%s: must be an object", ctx);
		strcat(ctx, ": ");
		if ((rc = check_only_keys(e, keys, ctx, err)) < 0)
			return rc;
		ctx[strlen(ctx) - 2] = 0;
		if ((rc = check_int(e, "hostPort", 1, 65535, true, ctx, err)) < 0 ||
		    (rc = check_int(e, "containerPort", 1, 65535, true, ctx, err)) < 0)
			return rc;
		p = json_object_get(e, "protocol");
		if (p && (!json_is_string(p) || (strcmp(json_string_value(p), "tcp") &&
						  strcmp(json_string_value(p), "udp") &&
						  strcmp(json_string_value(p), "sctp"))))
			return bad(err, "%s: protocol must be tcp, udp or sctp", ctx);
		p = json_object_get(e, "hostIP");
		if (p && (!json_is_string(p) || (json_string_length(p) &&
						  netd_addr_parse(json_string_value(p), &a) < 0)))
			return bad(err, "%s: hostIP must be an IP address", ctx);
	}
	return 0;
}

static int check_links(const json_t *v, struct netd_err *err)
{
	static const char *const keys[] = {"name", "alias", NULL};
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > 256)
		return bad(err, "field '%s' must be an array of at most 256 links", "links");
	json_array_foreach(v, i, e) {
		char ctx[32];
		json_t *a;
		int rc;

		snprintf(ctx, sizeof(ctx), "links[%zu]: ", i);
		if (!json_is_object(e))
			return bad(err, "%smust be an object {\"name\":..., \"alias\":...}", ctx);
		if ((rc = check_only_keys(e, keys, ctx, err)) < 0)
			return rc;
		a = json_object_get(e, "name");
		if (!json_is_string(a) || !netd_name_valid(json_string_value(a)))
			return bad(err, "%sname must be a valid container name", ctx);
		a = json_object_get(e, "alias");
		if (a && (!json_is_string(a) || !netd_name_valid(json_string_value(a))))
			return bad(err, "%salias must be a valid name", ctx);
	}
	return 0;
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

void netd_ep_free(struct netd_ep *ep)
{
	if (!ep)
		return;
	free(ep->id);
	free(ep->container_id);
	free(ep->network);
	free(ep->ifname);
	free(ep->name);
	free(ep->netns);
	free(ep->json);
	free(ep);
}

static void now_rfc3339(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* stored: the record comes from our own file, so "id" and "created" are allowed. */
static int ep_parse(const json_t *body, bool stored, struct netd_ep **out, struct netd_err *err)
{
	static const char *const keys[] = {"containerID", "name", "netns", "network", "ifname", "ips",
					   "mac", "aliases", "portMappings", "links", "id", "created", NULL};
	const char *cid, *net, *ifname = "eth0", *name = "", *netns;
	json_t *v, *rec = NULL;
	struct netd_ep *ep = NULL;
	char id[256], created[32];
	uint8_t mac[6];
	int rc;

	if (!json_is_object(body))
		return netd_err_set(err, -EINVAL, 400, "body must be a JSON object");
	if ((rc = check_only_keys(body, keys, "", err)) < 0)
		return rc;
	if (!stored && (json_object_get(body, "id") || json_object_get(body, "created")))
		return netd_err_set(err, -EINVAL, 400, "fields 'id' and 'created' are set by netd");

	v = json_object_get(body, "containerID");
	if (!v)
		return bad(err, "field '%s' is required", "containerID");
	if ((rc = want_string(v, "containerID", err)) < 0)
		return rc;
	if (!netd_cid_valid(cid = json_string_value(v)))
		return bad(err, "field '%s' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}", "containerID");

	v = json_object_get(body, "network");
	if (!v)
		return bad(err, "field '%s' is required", "network");
	if ((rc = want_string(v, "network", err)) < 0)
		return rc;
	if (!netd_name_valid(net = json_string_value(v)))
		return bad(err, "field '%s' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}", "network");

	v = json_object_get(body, "netns");
	if (!v)
		return bad(err, "field '%s' is required", "netns");
	if ((rc = want_string(v, "netns", err)) < 0)
		return rc;
	netns = json_string_value(v);
	if (netns[0] != '/' || strlen(netns) >= PATH_MAX || strstr(netns, "/../") ||
	    (strlen(netns) >= 3 && !strcmp(netns + strlen(netns) - 3, "/..")))
		return bad(err, "field '%s' must be an absolute path without '..'", "netns");

	if ((v = json_object_get(body, "ifname"))) {
		if ((rc = want_string(v, "ifname", err)) < 0)
			return rc;
		if (!netd_ifname_valid(ifname = json_string_value(v)))
			return bad(err, "field '%s' is not a valid interface name", "ifname");
	}
	if ((v = json_object_get(body, "name"))) {
		if ((rc = want_string(v, "name", err)) < 0)
			return rc;
		name = json_string_value(v);
		if (*name && !netd_name_valid(name))
			return bad(err, "field '%s' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}", "name");
	}
	if ((v = json_object_get(body, "mac"))) {
		if ((rc = want_string(v, "mac", err)) < 0)
			return rc;
		if (json_string_length(v) && netd_mac_parse(json_string_value(v), mac) < 0)
			return bad(err, "field '%s' is not a MAC address", "mac");
	}
	if ((v = json_object_get(body, "ips")) && (rc = check_ips(v, err)) < 0)
		return rc;
	if ((v = json_object_get(body, "aliases")) && (rc = check_name_list(v, "aliases", err)) < 0)
		return rc;
	if ((v = json_object_get(body, "portMappings")) && (rc = check_ports(v, err)) < 0)
		return rc;
	if ((v = json_object_get(body, "links")) && (rc = check_links(v, err)) < 0)
		return rc;
	if (netd_ep_id(id, sizeof(id), net, cid, ifname) < 0)
		return bad(err, "%s: endpoint id too long", "containerID");
	if (stored) {
		v = json_object_get(body, "id");
		if (!json_is_string(v) || strcmp(json_string_value(v), id))
			return bad(err, "stored record's id does not match its fields (%s)", id);
	}
	v = json_object_get(body, "created");
	if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(created)))
		return bad(err, "field '%s' must be a timestamp", "created");
	if (v)
		snprintf(created, sizeof(created), "%s", json_string_value(v));
	else
		now_rfc3339(created, sizeof(created));

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
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		goto nomem;
	ep->id = xstrdup(id);
	ep->container_id = xstrdup(cid);
	ep->network = xstrdup(net);
	ep->ifname = xstrdup(ifname);
	ep->name = xstrdup(name);
	ep->netns = xstrdup(netns);
	ep->json = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(rec);
	if (!ep->id || !ep->container_id || !ep->network || !ep->ifname || !ep->name || !ep->netns || !ep->json) {
		netd_ep_free(ep);
		return netd_err_set(err, -ENOMEM, 500, "out of memory");
	}
	*out = ep;
	return 0;
nomem:
	json_decref(rec);
	return netd_err_set(err, -ENOMEM, 500, "out of memory");
}

int netd_ep_from_json(const json_t *body, struct netd_ep **out, struct netd_err *err)
{
	return ep_parse(body, false, out, err);
}

void netd_net_free(struct netd_net *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->json);
	free(n);
}

static int net_parse(const json_t *body, bool stored, struct netd_net **out, struct netd_err *err)
{
	static const char *const keys[] = {"name", "driver", "subnets", "options", "created", "implicit", NULL};
	const char *name, *driver = "bridge", *k;
	json_t *v, *e, *rec;
	struct netd_net *n;
	char created[32];
	size_t i;
	int rc;

	if (!json_is_object(body))
		return netd_err_set(err, -EINVAL, 400, "body must be a JSON object");
	if ((rc = check_only_keys(body, keys, "", err)) < 0)
		return rc;
	if (!stored && (json_object_get(body, "created") || json_object_get(body, "implicit")))
		return netd_err_set(err, -EINVAL, 400, "fields 'created' and 'implicit' are set by netd");
	v = json_object_get(body, "name");
	if (!v)
		return bad(err, "field '%s' is required", "name");
	if ((rc = want_string(v, "name", err)) < 0)
		return rc;
	if (!netd_name_valid(name = json_string_value(v)))
		return bad(err, "field '%s' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}", "name");
	if ((v = json_object_get(body, "driver"))) {
		if ((rc = want_string(v, "driver", err)) < 0)
			return rc;
		driver = json_string_value(v);
		if (*driver && !netd_name_valid(driver))
			return bad(err, "field '%s' must be a driver name like bridge or macvlan", "driver");
	}
	if ((v = json_object_get(body, "subnets"))) {
		struct netd_prefix p;

		if (!json_is_array(v) || json_array_size(v) > 64)
			return bad(err, "field '%s' must be an array of at most 64 subnets", "subnets");
		json_array_foreach(v, i, e)
			if (!json_is_string(e) || netd_prefix_parse(json_string_value(e), &p) < 0)
				return netd_err_set(err, -EINVAL, 400, "subnets[%zu]: not a subnet "
						    "(like 10.89.0.0/24)", i);
	}
	if ((v = json_object_get(body, "options"))) {
		if (!json_is_object(v) || json_object_size(v) > 64)
			return bad(err, "field '%s' must be an object of at most 64 strings", "options");
		json_object_foreach(v, k, e)
			if (!json_is_string(e) || strlen(k) > 64 || json_string_length(e) > 1024)
				return netd_err_set(err, -EINVAL, 400, "options: '%.64s' must be a string "
						    "(keys up to 64, values up to 1024 bytes)", k);
	}
	if ((v = json_object_get(body, "implicit")) && !json_is_boolean(v))
		return bad(err, "field '%s' must be a boolean", "implicit");
	v = json_object_get(body, "created");
	if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(created)))
		return bad(err, "field '%s' must be a timestamp", "created");
	if (v)
		snprintf(created, sizeof(created), "%s", json_string_value(v));
	else
		now_rfc3339(created, sizeof(created));

	rec = json_pack("{s:s, s:s, s:O?, s:O?, s:s, s:b}", "name", name, "driver", driver,
			"subnets", json_object_get(body, "subnets"), "options", json_object_get(body, "options"),
			"created", created, "implicit", json_is_true(json_object_get(body, "implicit")));
	if (!rec)
		return netd_err_set(err, -ENOMEM, 500, "out of memory");
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
		return netd_err_set(err, -ENOMEM, 500, "out of memory");
	}
	*out = n;
	return 0;
}

int netd_net_from_json(const json_t *body, struct netd_net **out, struct netd_err *err)
{
	return net_parse(body, false, out, err);
}

/* ---- persistence -------------------------------------------------------- */

static int write_atomic(int dirfd, const char *name, const char *data, bool sync, struct netd_err *err)
{
	char tmp[300];
	size_t len = strlen(data), off = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return netd_err_set(err, -errno, 500, "create %s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = netd_err_set(err, -errno, 500, "write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		off += n;
	}
	if (write(fd, "\n", 1) != 1 || (sync && fsync(fd) < 0)) {
		rc = netd_err_set(err, -errno, 500, "write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = netd_err_set(err, -errno, 500, "rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (sync && fsync(dirfd) < 0)
		return netd_err_set(err, -errno, 500, "fsync state dir: %s", strerror(errno));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return rc;
}

static int unlink_durable(int dirfd, const char *name, bool sync, struct netd_err *err)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return netd_err_set(err, -errno, 500, "remove %s: %s", name, strerror(errno));
	if (sync && fsync(dirfd) < 0)
		return netd_err_set(err, -errno, 500, "fsync state dir: %s", strerror(errno));
	return 0;
}

/* ---- the store ---------------------------------------------------------- */

static size_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

struct netd_ep *netd_state_get_ep(const struct netd_state *s, const char *id)
{
	struct netd_ep *e;

	for (e = s->tab[hash(id) & (s->tab_size - 1)]; e; e = e->hnext)
		if (!strcmp(e->id, id))
			return e;
	return NULL;
}

struct netd_net *netd_state_get_net(const struct netd_state *s, const char *name)
{
	struct netd_net *n;

	for (n = s->nets; n; n = n->next)
		if (!strcmp(n->name, name))
			return n;
	return NULL;
}

static int grow(struct netd_state *s)
{
	size_t size = s->tab_size * 2;
	struct netd_ep **tab = calloc(size, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (struct netd_ep *e = s->first; e; e = e->next) {
		size_t b = hash(e->id) & (size - 1);

		e->hnext = tab[b];
		tab[b] = e;
	}
	free(s->tab);
	s->tab = tab;
	s->tab_size = size;
	return 0;
}

static void unlink_ep(struct netd_state *s, struct netd_ep *ep)
{
	struct netd_ep **pp = &s->tab[hash(ep->id) & (s->tab_size - 1)];
	struct netd_net *n;

	while (*pp != ep)
		pp = &(*pp)->hnext;
	*pp = ep->hnext;
	if (ep->prev)
		ep->prev->next = ep->next;
	else
		s->first = ep->next;
	if (ep->next)
		ep->next->prev = ep->prev;
	else
		s->last = ep->prev;
	s->n_eps--;
	if ((n = netd_state_get_net(s, ep->network)))
		n->n_eps--;
}

static void link_net(struct netd_state *s, struct netd_net *n)
{
	struct netd_net **pp = &s->nets;

	/* sorted by name: listings come out stable */
	while (*pp && strcmp((*pp)->name, n->name) < 0)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
	s->n_nets++;
}

static int ensure_net(struct netd_state *s, const char *name, struct netd_err *err)
{
	struct netd_net *n;
	json_t *body;
	int rc;

	if (netd_state_get_net(s, name))
		return 0;
	body = json_pack("{s:s, s:s, s:b}", "name", name, "driver", "", "implicit", 1);
	if (!body)
		return netd_err_set(err, -ENOMEM, 500, "out of memory");
	rc = net_parse(body, true, &n, err);
	json_decref(body);
	if (rc < 0)
		return rc;
	if (s->dir) {
		char file[128];

		snprintf(file, sizeof(file), "%s.json", name);
		if ((rc = write_atomic(s->dirfd_nets, file, n->json, true, err)) < 0) {
			netd_net_free(n);
			return rc;
		}
	}
	link_net(s, n);
	return 0;
}

static void insert_ep(struct netd_state *s, struct netd_ep *ep)
{
	size_t b;

	if (s->n_eps + 1 > s->tab_size)
		grow(s); /* on failure the chains just get longer */
	b = hash(ep->id) & (s->tab_size - 1);
	ep->hnext = s->tab[b];
	s->tab[b] = ep;
	ep->next = NULL;
	ep->prev = s->last;
	if (s->last)
		s->last->next = ep;
	else
		s->first = ep;
	s->last = ep;
	s->n_eps++;
	netd_state_get_net(s, ep->network)->n_eps++;
}

int netd_state_put_ep(struct netd_state *s, struct netd_ep *ep, bool *replaced, struct netd_err *err)
{
	struct netd_ep *old;
	int rc;

	if ((rc = ensure_net(s, ep->network, err)) < 0)
		goto fail;
	if (s->dir) {
		char file[300];

		snprintf(file, sizeof(file), "%s.json", ep->id);
		if ((rc = write_atomic(s->dirfd_eps, file, ep->json, !s->no_sync_eps, err)) < 0)
			goto fail;
	}
	if ((old = netd_state_get_ep(s, ep->id))) {
		unlink_ep(s, old);
		netd_ep_free(old);
	}
	if (replaced)
		*replaced = old != NULL;
	insert_ep(s, ep);
	return 0;
fail:
	netd_ep_free(ep);
	return rc;
}

int netd_state_del_ep(struct netd_state *s, const char *id, struct netd_err *err)
{
	struct netd_ep *ep = netd_state_get_ep(s, id);
	int rc;

	if (!ep)
		return netd_err_set(err, -ENOENT, 404, "no endpoint '%s'", id);
	if (s->dir) {
		char file[300];

		snprintf(file, sizeof(file), "%s.json", ep->id);
		if ((rc = unlink_durable(s->dirfd_eps, file, !s->no_sync_eps, err)) < 0)
			return rc;
	}
	unlink_ep(s, ep);
	netd_ep_free(ep);
	return 0;
}

int netd_state_put_net(struct netd_state *s, struct netd_net *n, struct netd_err *err)
{
	struct netd_net *old = netd_state_get_net(s, n->name), **pp;
	int rc;

	if (old && !old->implicit) {
		rc = netd_err_set(err, -EEXIST, 409, "network '%s' already exists", n->name);
		goto fail;
	}
	if (s->dir) {
		char file[128];

		snprintf(file, sizeof(file), "%s.json", n->name);
		if ((rc = write_atomic(s->dirfd_nets, file, n->json, true, err)) < 0)
			goto fail;
	}
	if (old) {
		n->n_eps = old->n_eps;
		for (pp = &s->nets; *pp != old; pp = &(*pp)->next)
			;
		*pp = old->next;
		s->n_nets--;
		netd_net_free(old);
	}
	link_net(s, n);
	return 0;
fail:
	netd_net_free(n);
	return rc;
}

int netd_state_del_net(struct netd_state *s, const char *name, struct netd_err *err)
{
	struct netd_net *n = netd_state_get_net(s, name), **pp;
	int rc;

	if (!n)
		return netd_err_set(err, -ENOENT, 404, "no network '%s'", name);
	if (n->n_eps)
		return netd_err_set(err, -EBUSY, 409, "network '%s' has %zu endpoints", name, n->n_eps);
	if (s->dir) {
		char file[128];

		snprintf(file, sizeof(file), "%s.json", name);
		if ((rc = unlink_durable(s->dirfd_nets, file, true, err)) < 0)
			return rc;
	}
	for (pp = &s->nets; *pp != n; pp = &(*pp)->next)
		;
	*pp = n->next;
	s->n_nets--;
	netd_net_free(n);
	return 0;
}

void netd_state_free(struct netd_state *s)
{
	struct netd_ep *e, *en;
	struct netd_net *n, *nn;

	if (!s)
		return;
	for (e = s->first; e; e = en) {
		en = e->next;
		netd_ep_free(e);
	}
	for (n = s->nets; n; n = nn) {
		nn = n->next;
		netd_net_free(n);
	}
	if (s->dirfd_eps >= 0)
		close(s->dirfd_eps);
	if (s->dirfd_nets >= 0)
		close(s->dirfd_nets);
	free(s->tab);
	free(s->dir);
	free(s);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Records are small: one read, then parse. (json_loadfd reads a byte per
 * syscall, which made loading 10,000 endpoints take seconds.) */
static json_t *load_json_at(int dirfd, const char *name)
{
	char buf[NETD_BODY_MAX_DEFAULT * 2];
	size_t len = 0;
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += n;
	close(fd);
	if (len == sizeof(buf))
		return NULL;
	return json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
}

/* Files that end in .json and are not our temporaries. */
static bool is_record(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

static void sweep_tmp(int dirfd)
{
	DIR *d = fdopendir(dup(dirfd));
	struct dirent *de;

	if (!d)
		return;
	rewinddir(d); /* the dup shares the offset with earlier readers */
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp"))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

static int load(struct netd_state *s, size_t *dropped, struct netd_err *err)
{
	DIR *d;
	struct dirent *de;

	sweep_tmp(s->dirfd_nets);
	sweep_tmp(s->dirfd_eps);
	if (!(d = fdopendir(dup(s->dirfd_nets))))
		return netd_err_set(err, -errno, 500, "%s/" NET_DIR ": %s", s->dir, strerror(errno));
	rewinddir(d);
	while ((de = readdir(d))) {
		struct netd_net *n;
		struct netd_err e = {0};
		json_t *j;

		if (!is_record(de->d_name))
			continue;
		j = load_json_at(s->dirfd_nets, de->d_name);
		/* A record we cannot read is skipped (and logged by the caller via
		 * the count), not fatal: one bad file must not keep netd down. */
		if (!j || net_parse(j, true, &n, &e) < 0 || netd_state_get_net(s, n->name)) {
			json_decref(j);
			continue;
		}
		json_decref(j);
		link_net(s, n);
	}
	closedir(d);
	if (!(d = fdopendir(dup(s->dirfd_eps))))
		return netd_err_set(err, -errno, 500, "%s/" EP_DIR ": %s", s->dir, strerror(errno));
	rewinddir(d);
	while ((de = readdir(d))) {
		struct netd_ep *ep;
		struct netd_err e = {0};
		char file[300];
		json_t *j;

		if (!is_record(de->d_name))
			continue;
		j = load_json_at(s->dirfd_eps, de->d_name);
		if (!j || ep_parse(j, true, &ep, &e) < 0) {
			json_decref(j);
			continue;
		}
		json_decref(j);
		snprintf(file, sizeof(file), "%s.json", ep->id);
		if (strcmp(file, de->d_name) || netd_state_get_ep(s, ep->id)) {
			netd_ep_free(ep);
			continue;
		}
		if (access(ep->netns, F_OK) < 0) {
			/* The container is gone: its runtime will never DEL it. */
			unlinkat(s->dirfd_eps, de->d_name, 0);
			(*dropped)++;
			netd_ep_free(ep);
			continue;
		}
		if (ensure_net(s, ep->network, &e) < 0) {
			netd_ep_free(ep);
			continue;
		}
		insert_ep(s, ep);
	}
	closedir(d);
	if (*dropped)
		fsync(s->dirfd_eps);
	return 0;
}

int netd_state_open(const char *dir, struct netd_state **out, size_t *dropped, struct netd_err *err)
{
	struct netd_state *s = calloc(1, sizeof(*s));
	size_t dummy = 0;
	int rc;

	if (!dropped)
		dropped = &dummy;
	*dropped = 0;
	if (!s)
		return netd_err_set(err, -ENOMEM, 500, "out of memory");
	s->dirfd_eps = s->dirfd_nets = -1;
	s->tab_size = 1024;
	if (!(s->tab = calloc(s->tab_size, sizeof(*s->tab)))) {
		free(s);
		return netd_err_set(err, -ENOMEM, 500, "out of memory");
	}
	if (dir) {
		char sub[PATH_MAX + 16];

		s->dir = strdup(dir);
		if ((rc = mkdir_p(dir, 0700)) < 0) {
			netd_err_set(err, rc, 500, "state dir %s: %s", dir, strerror(-rc));
			goto fail;
		}
		snprintf(sub, sizeof(sub), "%s/" EP_DIR, dir);
		if ((rc = mkdir_p(sub, 0700)) < 0 ||
		    (s->dirfd_eps = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rc = rc < 0 ? rc : -errno;
			netd_err_set(err, rc, 500, "state dir %s: %s", sub, strerror(-rc));
			goto fail;
		}
		snprintf(sub, sizeof(sub), "%s/" NET_DIR, dir);
		if ((rc = mkdir_p(sub, 0700)) < 0 ||
		    (s->dirfd_nets = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rc = rc < 0 ? rc : -errno;
			netd_err_set(err, rc, 500, "state dir %s: %s", sub, strerror(-rc));
			goto fail;
		}
		if ((rc = load(s, dropped, err)) < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	netd_state_free(s);
	return rc;
}
