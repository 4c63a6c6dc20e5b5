/* config.c — /etc/netd/netd.conf: "key = value" lines, the same settings as
 * the command line flags. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "netd/log.h"

void netd_config_defaults(struct netd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", NETD_DEFAULT_SOCKET);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", NETD_DEFAULT_STATE_DIR);
	c->log_level = NETD_LOG_INFO;
	c->max_body = NETD_BODY_MAX_DEFAULT;
	c->max_conns = NETD_CONN_MAX_DEFAULT;
	c->max_conns_per_uid = NETD_CONN_MAX_PER_UID_DEFAULT;
	c->request_timeout_ms = NETD_CONN_TIMEOUT_MS_DEFAULT;
	c->sync = NETD_SYNC_BATCH;
	snprintf(c->nft_table, sizeof(c->nft_table), "netd");
	c->dns_cache = NETD_DNS_CACHE_DEFAULT;
	c->dns_ttl = NETD_DNS_TTL_DEFAULT;
}

/* "1000, 1001" -> ids; numbers only, so that a typo cannot silently allow
 * nobody or everybody. */
static int parse_ids(const char *value, unsigned *ids, size_t *n, const char *key, struct netd_err *err)
{
	const char *p = value;

	*n = 0;
	while (*p) {
		char *end;
		unsigned long v;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (!isdigit((unsigned char)*p))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: '%s' is not a list of numeric ids", key, value);
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v > 0xfffffffeUL || (*end && *end != ',' && *end != ' ' && *end != '\t'))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: '%s' is not a list of numeric ids", key, value);
		if (*n == NETD_ALLOW_MAX)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: at most %d ids", key, NETD_ALLOW_MAX);
		ids[(*n)++] = (unsigned)v;
		p = end;
	}
	return 0;
}

static int parse_uint(const char *value, unsigned long lo, unsigned long hi, unsigned *out, const char *key,
		      struct netd_err *err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v < lo || v > hi)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: '%s' is not a number from %lu to %lu",
				    key, value, lo, hi);
	*out = (unsigned)v;
	return 0;
}

static int set_str(char *dst, size_t size, const char *key, const char *value, struct netd_err *err)
{
	if (!*value || strlen(value) >= size)
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: value must be 1..%zu characters", key, size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

int netd_config_set(struct netd_config *c, const char *key, const char *value, struct netd_err *err)
{
	if (!strcmp(key, "socket")) {
		if (value[0] != '/')
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "socket: '%s' is not an absolute path", value);
		return set_str(c->socket, sizeof(c->socket), key, value, err);
	}
	if (!strcmp(key, "state_dir")) {
		if (value[0] != '/')
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "state_dir: '%s' is not an absolute path", value);
		return set_str(c->state_dir, sizeof(c->state_dir), key, value, err);
	}
	if (!strcmp(key, "socket_group"))
		return set_str(c->socket_group, sizeof(c->socket_group), key, value, err);
	if (!strcmp(key, "log_level")) {
		int l = netd_log_level_parse(value);

		if (l < 0)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "log_level: '%s' is not err, warn, info or debug",
					    value);
		c->log_level = l;
		return 0;
	}
	if (!strcmp(key, "allow_uids"))
		return parse_ids(value, (unsigned *)c->allow_uids, &c->n_allow_uids, key, err);
	if (!strcmp(key, "allow_gids"))
		return parse_ids(value, (unsigned *)c->allow_gids, &c->n_allow_gids, key, err);
	if (!strcmp(key, "nft_table")) {
		size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

		if (!n || value[n] || n >= sizeof(c->nft_table))
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "nft_table: '%s' is not 1-32 of [A-Za-z0-9_]", value);
		snprintf(c->nft_table, sizeof(c->nft_table), "%s", value);
		return 0;
	}
	if (!strcmp(key, "sync")) {
		if (!strcmp(value, "always"))
			c->sync = NETD_SYNC_ALWAYS;
		else if (!strcmp(value, "batch"))
			c->sync = NETD_SYNC_BATCH;
		else if (!strcmp(value, "never"))
			c->sync = NETD_SYNC_NEVER;
		else
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "sync: '%s' is not always, batch or never", value);
		return 0;
	}
	/* The setting before the journal (fsync each record file or not). */
	if (!strcmp(key, "sync_endpoints")) {
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			c->sync = NETD_SYNC_ALWAYS;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			c->sync = NETD_SYNC_NEVER;
		else
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "sync_endpoints: '%s' is not yes or no", value);
		return 0;
	}
	if (!strcmp(key, "max_body")) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(value, &end, 10);
		if (errno || *end || v < 1024 || v > 16 * 1024 * 1024)
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "max_body: '%s' is not a size in bytes "
					    "between 1024 and 16777216", value);
		c->max_body = v;
		return 0;
	}
	if (!strcmp(key, "max_connections"))
		return parse_uint(value, 1, 65536, &c->max_conns, key, err);
	if (!strcmp(key, "max_connections_per_uid"))
		return parse_uint(value, 1, 65536, &c->max_conns_per_uid, key, err);
	if (!strcmp(key, "request_timeout")) {
		unsigned s = 0; /* gcc -O3 cannot see parse_uint sets it on success */
		int rc = parse_uint(value, 1, 300, &s, key, err);

		if (rc == 0)
			c->request_timeout_ms = s * 1000;
		return rc;
	}
	if (!strcmp(key, "dns_cache"))
		return parse_uint(value, 0, 1000000, &c->dns_cache, key, err);
	if (!strcmp(key, "dns_ttl"))
		return parse_uint(value, 0, 86400, &c->dns_ttl, key, err);
	return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "unknown setting '%s'", key);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int netd_config_load(struct netd_config *c, const char *path, struct netd_err *err)
{
	char line[4096];
	int lineno = 0, rc = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return netd_err_set(err, -errno, CNI_ERR_IO, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *k, *v, *eq;

		lineno++;
		k = trim(line);
		if (!*k || *k == '#' || *k == ';')
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			rc = netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s:%d: expected 'key = value'", path, lineno);
			break;
		}
		*eq = 0;
		k = trim(k);
		v = trim(eq + 1);
		if (strlen(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[strlen(v) - 1] == v[0]) {
			v[strlen(v) - 1] = 0;
			v++;
		}
		if ((rc = netd_config_set(c, k, v, err)) < 0) {
			netd_err_prefix(err, 400, "%s:%d", path, lineno);
			break;
		}
	}
	fclose(f);
	return rc;
}

bool netd_config_peer_allowed(const struct netd_config *c, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	for (size_t i = 0; i < c->n_allow_uids; i++)
		if (c->allow_uids[i] == uid)
			return true;
	for (size_t i = 0; i < c->n_allow_gids; i++)
		if (c->allow_gids[i] == gid)
			return true;
	return false;
}
