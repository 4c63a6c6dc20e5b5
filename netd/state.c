/* state.c — networks and endpoints in memory; on disk, networks as one file
 * each and endpoints as snapshot + append-only journal (daemon.h has the
 * layout and the record format; docs/netd.md the guarantees).
 *
 * Why: a registration must survive kill -9 once acknowledged, and at 10,000
 * endpoints neither rewriting one big file per request (O(n)) nor a file per
 * record (create + rename + fsyncs: 1-2.5 ms per change on a real disk) is
 * cheap. One write(2) of a checksummed record to an O_APPEND journal is; the
 * page cache carries it past a kill -9, the `sync` setting past a power loss.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

#define NET_DIR "networks"

/* ---- names -------------------------------------------------------------- */

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
	return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s", msg);
}

static int want_string(const json_t *v, const char *field, struct netd_err *err)
{
	if (!json_is_string(v))
		return bad(err, "field '%s' must be a string", field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, "field '%s' must not contain NUL", field);
	return 0;
}

/* A required string field of body. */
static int need_string(const json_t *body, const char *field, const char **out, struct netd_err *err)
{
	const json_t *v = json_object_get(body, field);
	int rc;

	*out = NULL; /* set on every path: gcc -O3 cannot tell that bad() is negative */
	if (!v)
		return bad(err, "field '%s' is required", field);
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
		return bad(err, "field '%s' must match " NETD_NAME_RULE, field);
	return rc;
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
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s[%zu]: not a valid name "
					    "(" NETD_NAME_RULE ")", field, i);
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
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "ips[%zu]: not an address with prefix length "
					    "(like 10.88.0.2/16)", i);
	}
	return 0;
}

static int check_int(const json_t *o, const char *key, long long min, long long max, bool required,
		     const char *ctx, struct netd_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return required ? netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: field '%s' is required", ctx, key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: field '%s' must be an integer in %lld..%lld",
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
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%sunknown field '%.64s'", ctx, k);
	}
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
		return bad(err, "field '%s' must be an object", "dns");
	if ((rc = check_only_keys(v, keys, "dns.", err)) < 0)
		return rc;
	ns = json_object_get(v, "nameservers");
	if (ns && (!json_is_array(ns) || json_array_size(ns) > 16))
		return bad(err, "field '%s' must be an array of at most 16 addresses", "dns.nameservers");
	json_array_foreach(ns, i, e) {
		if (!json_is_string(e) || netd_addr_parse(json_string_value(e), &a) < 0)
			return netd_err_set(err, -EINVAL, 400, "dns.nameservers[%zu]: not an IP address", i);
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
					   "mac", "aliases", "portMappings", "links", "dns", "id", "created", NULL};
	const char *cid, *net, *ifname = "eth0", *name = "", *netns;
	json_t *v, *rec = NULL;
	struct netd_ep *ep = NULL;
	char id[256], created[32];
	uint8_t mac[6];
	int rc;

	if (!json_is_object(body))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "body must be a JSON object");
	if ((rc = check_only_keys(body, keys, "", err)) < 0)
		return rc;
	if (!stored && (json_object_get(body, "id") || json_object_get(body, "created")))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "fields 'id' and 'created' are set by netd");

	if ((rc = need_string(body, "containerID", &cid, err)) < 0)
		return rc;
	if (!netd_cid_valid(cid))
		return bad(err, "field '%s' must match " NETD_CID_RULE, "containerID");
	if ((rc = need_name(body, "network", &net, err)) < 0)
		return rc;
	if ((rc = need_string(body, "netns", &netns, err)) < 0)
		return rc;
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
			return bad(err, "field '%s' must match " NETD_NAME_RULE, "name");
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
	if ((v = json_object_get(body, "dns")) && (rc = check_dns(v, err)) < 0)
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
	/* the network's upstream servers for the resolver: only when given */
	v = json_object_get(json_object_get(body, "dns"), "nameservers");
	if (json_array_size(v) && json_object_set_new(rec, "dns", json_pack("{s:O}", "nameservers", v)) < 0)
		goto nomem;
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
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	}
	*out = ep;
	return 0;
nomem:
	json_decref(rec);
	return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
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
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "body must be a JSON object");
	if ((rc = check_only_keys(body, keys, "", err)) < 0)
		return rc;
	if (!stored && (json_object_get(body, "created") || json_object_get(body, "implicit")))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "fields 'created' and 'implicit' are set by netd");
	if ((rc = need_name(body, "name", &name, err)) < 0)
		return rc;
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
				return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "subnets[%zu]: not a subnet "
						    "(like 10.89.0.0/24)", i);
	}
	if ((v = json_object_get(body, "options"))) {
		if (!json_is_object(v) || json_object_size(v) > 64)
			return bad(err, "field '%s' must be an object of at most 64 strings", "options");
		json_object_foreach(v, k, e)
			if (!json_is_string(e) || strlen(k) > 64 || json_string_length(e) > 1024)
				return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "options: '%.64s' must be a string "
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
	return net_parse(body, false, out, err);
}

/* ---- persistence: network records --------------------------------------- */

/* Networks change rarely: one file each, always fsynced. */
static int write_atomic(int dirfd, const char *name, const char *data, bool sync, struct netd_err *err)
{
	char tmp[300];
	size_t len = strlen(data), off = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "create %s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = netd_err_set(err, -errno, CNI_ERR_IO, "write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		off += n;
	}
	if (write(fd, "\n", 1) != 1 || (sync && fsync(fd) < 0)) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = netd_err_set(err, -errno, CNI_ERR_IO, "rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (sync && fsync(dirfd) < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "fsync state dir: %s", strerror(errno));
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
		return netd_err_set(err, -errno, CNI_ERR_IO, "remove %s: %s", name, strerror(errno));
	if (sync && fsync(dirfd) < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "fsync state dir: %s", strerror(errno));
	return 0;
}

/* ---- persistence: the endpoint journal ---------------------------------- */

/* Why a journal: an acknowledged registration must survive kill -9, and for
 * that one write(2) into the page cache is enough; a file per record cost a
 * create + rename (+ fsyncs) per change, 1-2.5 ms on a real disk. The record
 * header is fixed-width text so the files stay readable with less(1). */
#define HDR_LEN 20		/* "P 0000001a 1c291ca3 " */
#define J_PREFIX "endpoints."
#define OLD_EP_DIR "endpoints"

void (*netd_state_warn)(const char *msg);

static uint32_t crc_tab[256];

static uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!crc_tab[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			crc_tab[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = crc_tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t rec_crc(char op, const char *payload, size_t len)
{
	return crc32_update(crc32_update(0, &op, 1), payload, len);
}

static void rec_header(char hdr[HDR_LEN + 1], char op, const char *payload, size_t len)
{
	snprintf(hdr, HDR_LEN + 1, "%c %08zx %08x ", op, len, (unsigned)rec_crc(op, payload, len));
}

static int hex8(const char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (uint32_t)(c - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

static void gen_name(char *buf, size_t size, unsigned long long gen, const char *ext)
{
	snprintf(buf, size, J_PREFIX "%010llu.%s", gen, ext);
}

/* "endpoints.0000000003.log" -> 'l', 3; ".snap" -> 's'; anything else 0. */
static char parse_name(const char *name, unsigned long long *gen)
{
	const char *p = name + strlen(J_PREFIX);

	if (strncmp(name, J_PREFIX, strlen(J_PREFIX)))
		return 0;
	for (int i = 0; i < 10; i++)
		if (!isdigit((unsigned char)p[i]))
			return 0;
	*gen = strtoull(p, NULL, 10);
	if (!strcmp(p + 10, ".log"))
		return 'l';
	if (!strcmp(p + 10, ".snap"))
		return 's';
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void warn(struct netd_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct netd_state *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->warning, sizeof(s->warning), fmt, ap);
	va_end(ap);
	s->n_warnings++;
	if (netd_state_warn)
		netd_state_warn(s->warning);
}

/* Start journal GEN and append to it from now on. The old one is synced
 * first, so a batch window never spans two files. */
static int journal_create(struct netd_state *s, unsigned long long gen, struct netd_err *err)
{
	char name[64];
	int fd;

	gen_name(name, sizeof(name), gen, "log");
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return netd_err_set(err, -errno, CNI_ERR_IO, "create %s/%s: %s", s->dir, name, strerror(errno));
	/* Records synced into a file whose name is not durable would be lost
	 * with it on a power loss. */
	if (s->sync != NETD_SYNC_NEVER && fsync(s->dirfd) < 0) {
		int rc = -errno;

		close(fd);
		unlinkat(s->dirfd, name, 0);
		return netd_err_set(err, rc, CNI_ERR_IO, "fsync %s: %s", s->dir, strerror(-rc));
	}
	if (s->jfd >= 0) {
		if (s->dirty && fdatasync(s->jfd) < 0)
			warn(s, "fdatasync %s/" J_PREFIX "%010llu.log: %s", s->dir, s->jgen, strerror(errno));
		close(s->jfd);
	}
	s->jfd = fd;
	s->jgen = gen;
	s->j_size = 0;
	s->j_broken = false;
	s->dirty = false;
	return 0;
}

/* One change = one write of one whole record; after it returns, a kill -9
 * cannot lose the change. */
static int journal_append(struct netd_state *s, char op, const char *payload, struct netd_err *err)
{
	size_t len = strlen(payload);
	char hdr[HDR_LEN + 1];
	struct iovec iov[3] = {
		{hdr, HDR_LEN}, {(void *)payload, len}, {"\n", 1},
	};
	ssize_t n;
	int rc;

	if (s->j_broken && (rc = journal_create(s, s->jgen + 1, err)) < 0)
		return rc;
	rec_header(hdr, op, payload, len);
	do
		n = writev(s->jfd, iov, 3);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)(HDR_LEN + len + 1) && s->sync == NETD_SYNC_ALWAYS && fdatasync(s->jfd) < 0)
		n = -1;
	if (n != (ssize_t)(HDR_LEN + len + 1)) {
		rc = n < 0 ? -errno : -ENOSPC;
		/* A partial (or unsynced) record must not stay in front of later
		 * ones: take it back, or leave this file for a new one. */
		if (n != 0 && ftruncate(s->jfd, s->j_size) < 0)
			s->j_broken = true;
		return netd_err_set(err, rc, CNI_ERR_IO, "append to %s/" J_PREFIX "%010llu.log: %s", s->dir, s->jgen,
				    strerror(-rc));
	}
	s->j_size += n;
	s->j_records++;
	if (s->sync == NETD_SYNC_BATCH && !s->dirty) {
		s->dirty = true;
		s->dirty_since_ms = now_ms();
	}
	return 0;
}

/* Buffered writer for snapshots: no allocation (it runs in the forked child). */
struct wbuf {
	int fd, err;
	size_t len;
	char b[64 * 1024];
};

static void wb_flush(struct wbuf *w)
{
	size_t off = 0;

	while (!w->err && off < w->len) {
		ssize_t n = write(w->fd, w->b + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->err = n < 0 ? errno : EIO;
		else
			off += n;
	}
	w->len = 0;
}

static void wb_put(struct wbuf *w, const char *p, size_t n)
{
	while (n) {
		size_t k = sizeof(w->b) - w->len;

		if (!k) {
			wb_flush(w);
			continue;
		}
		if (k > n)
			k = n;
		memcpy(w->b + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
	}
}

static void wb_record(struct wbuf *w, char op, const char *payload, size_t len)
{
	char hdr[HDR_LEN + 1];

	rec_header(hdr, op, payload, len);
	wb_put(w, hdr, HDR_LEN);
	wb_put(w, payload, len);
	wb_put(w, "\n", 1);
}

/* Every live endpoint as snapshot GEN: write-temp + fsync + rename + fsync(dir),
 * so a snapshot that exists is whole. Returns 0 or a negative errno. */
static int snapshot_write(struct netd_state *s, unsigned long long gen)
{
	static struct wbuf w;
	char name[64], tmp[80], hdr[96];

	gen_name(name, sizeof(name), gen, "snap");
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	w.len = 0;
	w.err = 0;
	w.fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w.fd < 0)
		return -errno;
	snprintf(hdr, sizeof(hdr), "netd-endpoints 1 gen=%llu count=%zu", gen, s->n_eps);
	wb_record(&w, 'H', hdr, strlen(hdr));
	for (struct netd_ep *ep = s->first; ep; ep = ep->next)
		wb_record(&w, 'P', ep->json, strlen(ep->json));
	wb_flush(&w);
	if (!w.err && fsync(w.fd) < 0)
		w.err = errno;
	if (close(w.fd) < 0 && !w.err)
		w.err = errno;
	if (!w.err && renameat(s->dirfd, tmp, s->dirfd, name) < 0)
		w.err = errno;
	if (!w.err && fsync(s->dirfd) < 0)
		w.err = errno;
	if (w.err)
		unlinkat(s->dirfd, tmp, 0);
	return -w.err;
}

/* Snapshot GEN is durable: journals up to GEN and older snapshots are history. */
static void remove_older(struct netd_state *s, unsigned long long gen)
{
	DIR *d = fdopendir(dup(s->dirfd));
	struct dirent *de;
	unsigned long long g;

	if (!d)
		return;
	rewinddir(d);
	while ((de = readdir(d))) {
		char kind = parse_name(de->d_name, &g);

		if ((kind == 'l' && g <= gen) || (kind == 's' && g < gen))
			unlinkat(s->dirfd, de->d_name, 0);
	}
	closedir(d);
}

static int compact_done(struct netd_state *s, unsigned long long gen, int rc, struct netd_err *err)
{
	uint64_t now = now_ms();

	s->child = 0;
	s->last_compact_ms = (double)(now - s->child_started_ms);
	if (rc < 0) {
		/* Nothing is lost: the journals stay and are loaded as before. */
		warn(s, "compaction of %s failed: %s; keeping the journals, retrying in 10 s", s->dir,
		     strerror(-rc));
		s->want_compact = true;
		s->compact_after_ms = now + 10000;
		return netd_err_set(err, rc, CNI_ERR_IO, "%s", s->warning);
	}
	s->n_compactions++;
	remove_older(s, gen);
	return 0;
}

static int child_rc(pid_t p, int status)
{
	if (p < 0)
		return -errno;
	if (WIFEXITED(status))
		return -WEXITSTATUS(status);
	return -EINTR;
}

/* Rotate to a new journal and snapshot the state as of the end of the old
 * one: in a forked child (copy-on-write memory, the loop goes on), or here. */
static int compact_start(struct netd_state *s, bool in_process, struct netd_err *err)
{
	unsigned long long gen = s->jgen;
	pid_t parent = getpid(), pid;
	int rc;

	s->child_started_ms = now_ms();
	s->want_compact = false;
	if ((rc = journal_create(s, gen + 1, err)) < 0) {
		s->want_compact = true;
		s->compact_after_ms = s->child_started_ms + 10000;
		return rc;
	}
	s->j_records = 0;
	if (in_process)
		return compact_done(s, gen, snapshot_write(s, gen), err);
	pid = fork();
	if (pid < 0)
		return compact_done(s, gen, -errno, err);
	if (pid == 0) {
		/* Die with netd: a snapshot must not land after a successor started. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EINTR);
		if (s->dirfd > 3)
			close_range(3, s->dirfd - 1, 0);
		close_range(s->dirfd + 1, ~0U, 0);
		_exit(-snapshot_write(s, gen));
	}
	s->child = pid;
	s->child_gen = gen;
	return 0;
}

static int wait_child(struct netd_state *s, struct netd_err *err)
{
	int status = 0;
	pid_t p;

	if (!s->child)
		return 0;
	while ((p = waitpid(s->child, &status, 0)) < 0 && errno == EINTR)
		;
	return compact_done(s, s->child_gen, child_rc(p, status), err);
}

int netd_state_compact(struct netd_state *s, struct netd_err *err)
{
	int rc;

	if (!s->dir)
		return 0;
	if ((rc = wait_child(s, err)) < 0 || (rc = compact_start(s, false, err)) < 0)
		return rc;
	return wait_child(s, err);
}

static bool compact_due(const struct netd_state *s, uint64_t now)
{
	if (!s->dir || s->child || now < s->compact_after_ms)
		return false;
	/* The journal at most about the live set: snapshots cost O(live) once
	 * per O(live) changes, and a load reads at most ~2x the live set. */
	return s->want_compact || (s->j_records >= s->compact_min && s->j_records > s->n_eps);
}

int netd_state_tick(struct netd_state *s, struct netd_err *err)
{
	uint64_t now;
	int rc = 0, status = 0;

	if (!s->dir)
		return 0;
	now = now_ms();
	if (s->dirty && now >= s->dirty_since_ms + NETD_SYNC_BATCH_MS) {
		s->dirty = false;
		if (fdatasync(s->jfd) < 0) {
			warn(s, "fdatasync %s/" J_PREFIX "%010llu.log: %s", s->dir, s->jgen, strerror(errno));
			rc = netd_err_set(err, -EIO, CNI_ERR_IO, "%s", s->warning);
		}
	}
	if (s->child) {
		pid_t p = waitpid(s->child, &status, WNOHANG);

		if (p != 0 && compact_done(s, s->child_gen, child_rc(p, status), err) < 0)
			rc = -EIO;
	}
	if (compact_due(s, now) && compact_start(s, false, err) < 0)
		rc = -EIO;
	return rc;
}

int netd_state_timeout_ms(const struct netd_state *s)
{
	uint64_t now;
	long t = -1;

	if (!s->dir)
		return -1;
	now = now_ms();
	if (s->child)
		t = 10;
	if (s->dirty) {
		uint64_t due = s->dirty_since_ms + NETD_SYNC_BATCH_MS;
		long d = due > now ? (long)(due - now) : 0;

		if (t < 0 || d < t)
			t = d;
	}
	if (s->want_compact && !s->child) {
		long d = s->compact_after_ms > now ? (long)(s->compact_after_ms - now) : 0;

		if (t < 0 || d < t)
			t = d;
	}
	return (int)t;
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
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
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

/* Replace or insert in memory only. */
static void store_ep(struct netd_state *s, struct netd_ep *ep, bool *replaced)
{
	struct netd_ep *old = netd_state_get_ep(s, ep->id);

	if (old) {
		unlink_ep(s, old);
		netd_ep_free(old);
	}
	if (replaced)
		*replaced = old != NULL;
	insert_ep(s, ep);
}

int netd_state_put_ep(struct netd_state *s, struct netd_ep *ep, bool *replaced, struct netd_err *err)
{
	int rc;

	if ((rc = ensure_net(s, ep->network, err)) < 0)
		goto fail;
	if (s->dir && (rc = journal_append(s, 'P', ep->json, err)) < 0)
		goto fail;
	store_ep(s, ep, replaced);
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
		return netd_err_set(err, -ENOENT, NETD_ERR_NOT_FOUND, "no endpoint '%s'", id);
	if (s->dir && (rc = journal_append(s, 'D', ep->id, err)) < 0)
		return rc;
	unlink_ep(s, ep);
	netd_ep_free(ep);
	return 0;
}

int netd_state_put_net(struct netd_state *s, struct netd_net *n, struct netd_err *err)
{
	struct netd_net *old = netd_state_get_net(s, n->name), **pp;
	int rc;

	if (old && !old->implicit) {
		rc = netd_err_set(err, -EEXIST, NETD_ERR_IN_USE, "network '%s' already exists", n->name);
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
		return netd_err_set(err, -ENOENT, NETD_ERR_NOT_FOUND, "no network '%s'", name);
	if (n->n_eps)
		return netd_err_set(err, -EBUSY, NETD_ERR_IN_USE, "network '%s' has %zu endpoints", name, n->n_eps);
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
	struct netd_err err = {0};

	if (!s)
		return;
	wait_child(s, &err);
	if (s->jfd >= 0) {
		if (s->dirty)
			fdatasync(s->jfd);
		close(s->jfd);
	}
	for (e = s->first; e; e = en) {
		en = e->next;
		netd_ep_free(e);
	}
	for (n = s->nets; n; n = nn) {
		nn = n->next;
		netd_net_free(n);
	}
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->dirfd_nets >= 0)
		close(s->dirfd_nets);
	free(s->tab);
	free(s->dir);
	free(s);
}

/* ---- loading ------------------------------------------------------------ */

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

static void load_networks(struct netd_state *s)
{
	DIR *d = fdopendir(dup(s->dirfd_nets));
	struct dirent *de;

	sweep_tmp(s->dirfd_nets);
	if (!d)
		return;
	rewinddir(d);
	while ((de = readdir(d))) {
		struct netd_net *n;
		struct netd_err e = {0};
		json_t *j;

		if (!is_record(de->d_name))
			continue;
		j = load_json_at(s->dirfd_nets, de->d_name);
		/* One bad file must not keep netd down. */
		if (!j || net_parse(j, true, &n, &e) < 0) {
			warn(s, "%s/" NET_DIR "/%s: skipped: %s", s->dir, de->d_name,
			     j ? e.msg : "unreadable or malformed JSON");
			json_decref(j);
			continue;
		}
		json_decref(j);
		if (netd_state_get_net(s, n->name)) {
			netd_net_free(n);
			continue;
		}
		link_net(s, n);
	}
	closedir(d);
}

/* A stored endpoint record (a journal/snapshot payload or an old-layout file). */
static void load_ep(struct netd_state *s, json_t *j, const char *where)
{
	struct netd_ep *ep;
	struct netd_err e = {0};

	if (!j || ep_parse(j, true, &ep, &e) < 0) {
		warn(s, "%s: skipped an endpoint record that does not validate: %s", where,
		     e.msg[0] ? e.msg : "malformed JSON");
		return;
	}
	if (ensure_net(s, ep->network, &e) < 0) {
		warn(s, "%s: skipped endpoint %s: %s", where, ep->id, e.msg);
		netd_ep_free(ep);
		return;
	}
	store_ep(s, ep, NULL);
}

/* The fields the store indexes by, from a record as ep_parse writes it:
 * {"id":"..","containerID":"..","name":"..","network":"..","ifname":"..","netns":"..",...
 * Only strings without escapes; anything else is left to jansson. */
static bool canonical_fields(const char *p, size_t len, const char *v[6], size_t vlen[6])
{
	static const char *const pre[] = {"{\"id\":\"", ",\"containerID\":\"", ",\"name\":\"",
					  ",\"network\":\"", ",\"ifname\":\"", ",\"netns\":\""};
	const char *q = p, *end = p + len;

	for (int i = 0; i < 6; i++) {
		size_t k = strlen(pre[i]);

		if ((size_t)(end - q) < k || memcmp(q, pre[i], k))
			return false;
		v[i] = q += k;
		while (q < end && *q != '"' && *q != '\\' && *q)
			q++;
		if (q == end || *q != '"')
			return false;
		vlen[i] = q++ - v[i];
	}
	return true;
}

/* A journal or snapshot payload: checksummed, and written from ep_parse's
 * canonical output, so take the fields the store indexes by and keep the bytes
 * as they are. A load of 10,000 spent most of its time re-validating and
 * re-serialising them with ep_parse; that is now the fallback for anything
 * unexpected (and says what is wrong). */
static void load_ep_stored(struct netd_state *s, const char *p, size_t len, const char *where)
{
	struct netd_ep *ep = calloc(1, sizeof(*ep));
	struct netd_err e = {0};
	const char *v[6];
	size_t vlen[6];
	char id[256];
	json_t *j;

	if (!ep || !canonical_fields(p, len, v, vlen) || !(ep->id = strndup(v[0], vlen[0])) ||
	    !(ep->container_id = strndup(v[1], vlen[1])) || !(ep->name = strndup(v[2], vlen[2])) ||
	    !(ep->network = strndup(v[3], vlen[3])) || !(ep->ifname = strndup(v[4], vlen[4])) ||
	    !(ep->netns = strndup(v[5], vlen[5])) || !netd_cid_valid(ep->container_id) ||
	    !netd_name_valid(ep->network) || !netd_ifname_valid(ep->ifname) ||
	    (*ep->name && !netd_name_valid(ep->name)) || ep->netns[0] != '/' ||
	    netd_ep_id(id, sizeof(id), ep->network, ep->container_id, ep->ifname) < 0 || strcmp(id, ep->id) ||
	    !(ep->json = strndup(p, len))) {
		netd_ep_free(ep);
		j = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
		load_ep(s, j, where);
		json_decref(j);
		return;
	}
	if (ensure_net(s, ep->network, &e) < 0) {
		warn(s, "%s: skipped endpoint %s: %s", where, ep->id, e.msg);
		netd_ep_free(ep);
		return;
	}
	store_ep(s, ep, NULL);
}

/* The layout before the journal: endpoints/ID.json, one file per endpoint. */
static bool load_old_layout(struct netd_state *s, int oldfd)
{
	DIR *d = fdopendir(dup(oldfd));
	struct dirent *de;
	char where[PATH_MAX + 300];

	if (!d)
		return false;
	rewinddir(d);
	while ((de = readdir(d))) {
		json_t *j;

		if (!is_record(de->d_name))
			continue;
		snprintf(where, sizeof(where), "%s/" OLD_EP_DIR "/%s", s->dir, de->d_name);
		j = load_json_at(oldfd, de->d_name);
		load_ep(s, j, where);
		json_decref(j);
	}
	closedir(d);
	return true;
}

static void remove_old_layout(struct netd_state *s, int oldfd)
{
	DIR *d = fdopendir(dup(oldfd));
	struct dirent *de;

	if (!d)
		return;
	rewinddir(d);
	while ((de = readdir(d)))
		if ((is_record(de->d_name) || (de->d_name[0] == '.' && strstr(de->d_name, ".tmp"))))
			unlinkat(oldfd, de->d_name, 0);
	closedir(d);
	if (unlinkat(s->dirfd, OLD_EP_DIR, AT_REMOVEDIR) < 0)
		warn(s, "%s/" OLD_EP_DIR ": converted, but cannot remove it: %s", s->dir, strerror(errno));
}

/* Apply the records of one journal or snapshot, in order, up to the first
 * one that is not whole and intact (*torn then). Returns how many. */
static size_t load_file(struct netd_state *s, const char *name, bool *torn)
{
	char where[PATH_MAX + 64];
	struct stat st;
	const char *buf;
	size_t off = 0, n = 0, puts = 0, expect = (size_t)-1;
	int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*torn = false;
	snprintf(where, sizeof(where), "%s/%s", s->dir, name);
	if (fd < 0 || fstat(fd, &st) < 0) {
		warn(s, "%s: %s; its records are missing", where, strerror(errno));
		if (fd >= 0)
			close(fd);
		*torn = true;
		return 0;
	}
	if (!st.st_size) {
		close(fd);
		return 0;
	}
	buf = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (buf == MAP_FAILED) {
		warn(s, "%s: %s; its records are missing", where, strerror(errno));
		*torn = true;
		return 0;
	}
	while (off < (size_t)st.st_size) {
		const char *r = buf + off, *p = r + HDR_LEN;
		size_t left = st.st_size - off;
		uint32_t len, crc;

		if (left < HDR_LEN + 1 || (r[0] != 'P' && r[0] != 'D' && r[0] != 'H') || r[1] != ' ' ||
		    r[10] != ' ' || r[19] != ' ' || hex8(r + 2, &len) < 0 || hex8(r + 11, &crc) < 0 ||
		    len > left - HDR_LEN - 1 || p[len] != '\n' || rec_crc(r[0], p, len) != crc)
			break;
		if (r[0] == 'P') {
			load_ep_stored(s, p, len, where);
			puts++;
		} else if (r[0] == 'D') {
			char id[256];
			struct netd_ep *ep;

			if (len < sizeof(id)) {
				memcpy(id, p, len);
				id[len] = 0;
				if ((ep = netd_state_get_ep(s, id))) {
					unlink_ep(s, ep);
					netd_ep_free(ep);
				}
			}
		} else {
			const char *c = memmem(p, len, " count=", 7);

			if (c)
				expect = strtoull(c + 7, NULL, 10);
		}
		off += HDR_LEN + len + 1;
		n++;
	}
	if (off < (size_t)st.st_size) {
		*torn = true;
		warn(s, "%s: torn or corrupt record at byte %zu: dropped it and the %zu bytes after it; "
		     "the %zu records before it are kept", where, off, (size_t)st.st_size - off, n);
	} else if (expect != (size_t)-1 && expect != puts) {
		warn(s, "%s: header says %zu endpoints, found %zu", where, expect, puts);
	}
	munmap((void *)buf, st.st_size);
	return n;
}

static int cmp_gen(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

static int load_endpoints(struct netd_state *s, size_t *dropped, struct netd_err *err)
{
	unsigned long long snap = 0, g, *logs = NULL, jmax = 0;
	size_t n_logs = 0, cap = 0;
	bool torn = false, last_torn = false, migrate;
	DIR *d;
	struct dirent *de;
	char name[64];
	int oldfd, rc = 0;

	sweep_tmp(s->dirfd);
	/* Old layout first: a conversion interrupted by a crash left a subset
	 * of what the newer files hold, so they win. */
	oldfd = openat(s->dirfd, OLD_EP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	migrate = oldfd >= 0 && load_old_layout(s, oldfd);

	if (!(d = fdopendir(dup(s->dirfd))))
		return netd_err_set(err, -errno, CNI_ERR_IO, "%s: %s", s->dir, strerror(errno));
	rewinddir(d);
	while ((de = readdir(d))) {
		char kind = parse_name(de->d_name, &g);

		if (kind == 's' && g > snap)
			snap = g;
		if (kind != 'l')
			continue;
		if (n_logs == cap) {
			unsigned long long *nl = realloc(logs, (cap = cap ? cap * 2 : 8) * sizeof(*logs));

			if (!nl) {
				closedir(d);
				free(logs);
				rc = netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
				goto out;
			}
			logs = nl;
		}
		logs[n_logs++] = g;
	}
	closedir(d);
	if (n_logs)
		qsort(logs, n_logs, sizeof(*logs), cmp_gen);
	if (snap) {
		gen_name(name, sizeof(name), snap, "snap");
		load_file(s, name, &torn);
	}
	for (size_t i = 0; i < n_logs; i++) {
		if (logs[i] <= snap)
			continue;
		gen_name(name, sizeof(name), logs[i], "log");
		s->j_records += load_file(s, name, &last_torn);
		torn |= last_torn;
		jmax = logs[i];
	}
	free(logs);

	/* Append to the newest journal, unless it ends in garbage: then a new
	 * one, and the next compaction retires the torn file. */
	if (jmax && !last_torn) {
		struct stat st;

		gen_name(name, sizeof(name), jmax, "log");
		s->jfd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (s->jfd < 0 || fstat(s->jfd, &st) < 0) {
			rc = netd_err_set(err, -errno, CNI_ERR_IO, "%s/%s: %s", s->dir, name, strerror(errno));
			goto out;
		}
		s->jgen = jmax;
		s->j_size = st.st_size;
	} else if ((rc = journal_create(s, (jmax > snap ? jmax : snap) + 1, err)) < 0) {
		goto out;
	}
	if (torn)
		s->want_compact = true;
	if (snap)
		remove_older(s, snap);

	for (struct netd_ep *ep = s->first, *next; ep; ep = next) {
		next = ep->next;
		if (access(ep->netns, F_OK) == 0)
			continue;
		/* The container is gone: its runtime will never DEL it. If the
		 * delete cannot be journalled, the next load drops it again. */
		journal_append(s, 'D', ep->id, &(struct netd_err){0});
		unlink_ep(s, ep);
		netd_ep_free(ep);
		(*dropped)++;
	}

	if (migrate) {
		struct netd_err e = {0};

		/* Snapshot durable first, only then the old files go. */
		if (compact_start(s, true, &e) < 0)
			warn(s, "%s: converting the old layout: %s; keeping it", s->dir, e.msg);
		else
			remove_old_layout(s, oldfd);
	}
out:
	if (oldfd >= 0)
		close(oldfd);
	return rc;
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
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	s->dirfd = s->dirfd_nets = s->jfd = -1;
	s->sync = NETD_SYNC_BATCH;
	s->compact_min = NETD_COMPACT_MIN_DEFAULT;
	s->tab_size = 1024;
	if (!(s->tab = calloc(s->tab_size, sizeof(*s->tab)))) {
		free(s);
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	}
	if (dir) {
		char sub[PATH_MAX + 16];

		s->dir = strdup(dir);
		if ((rc = netd_mkdir_p(dir, 0700)) < 0 || (s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rc = rc < 0 ? rc : -errno;
			netd_err_set(err, rc, CNI_ERR_IO, "state dir %s: %s", dir, strerror(-rc));
			goto fail;
		}
		snprintf(sub, sizeof(sub), "%s/" NET_DIR, dir);
		if ((rc = netd_mkdir_p(sub, 0700)) < 0 ||
		    (s->dirfd_nets = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rc = rc < 0 ? rc : -errno;
			netd_err_set(err, rc, CNI_ERR_IO, "state dir %s: %s", sub, strerror(-rc));
			goto fail;
		}
		load_networks(s);
		if ((rc = load_endpoints(s, dropped, err)) < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	netd_state_free(s);
	return rc;
}
