/* host_rec.c — netd-host's saved-device record: alias and state file. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "netd/addr.h"
#include "netd/host_rec.h"
#include "netd/util.h"

#define PREFIX NETD_HOST_REC_ALIAS_PREFIX
#define PREFIX_LEN (sizeof(PREFIX) - 1)

void netd_host_rec_alias(const struct netd_host_rec *r, char out[NETD_HOST_REC_ALIAS_MAX])
{
	int n = snprintf(out, NETD_HOST_REC_ALIAS_MAX, PREFIX "%s:%02x%02x%02x%02x%02x%02x:%d:%s:%s:%s", r->orig,
			 r->mac[0], r->mac[1], r->mac[2], r->mac[3], r->mac[4], r->mac[5], r->mtu,
			 r->up ? "up" : "down", r->ifname, r->cid);

	if (n > 0 && r->alias[0] && n + 1 + strlen(r->alias) < NETD_HOST_REC_ALIAS_MAX)
		snprintf(out + n, NETD_HOST_REC_ALIAS_MAX - n, ":%s", r->alias);
}

bool netd_host_rec_from_alias(const char *alias, struct netd_host_rec *r)
{
	char name[IFNAMSIZ + 1], mac[13], up[5], ifname[IFNAMSIZ + 1], cid[256];
	const char *rest;
	int mtu, n = 0;
	unsigned b[6];

	if (strncmp(alias, PREFIX, PREFIX_LEN))
		return false;
	if (sscanf(alias + PREFIX_LEN, "%16[^:]:%12[0-9a-f]:%d:%4[a-z]:%16[^:]:%255[^:]%n", name, mac, &mtu, up,
		   ifname, cid, &n) != 6)
		return false;
	rest = alias + PREFIX_LEN + n;
	if ((*rest && *rest != ':') || strlen(name) >= IFNAMSIZ || strlen(ifname) >= IFNAMSIZ || strlen(mac) != 12 ||
	    (strcmp(up, "up") && strcmp(up, "down")) ||
	    sscanf(mac, "%2x%2x%2x%2x%2x%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return false;
	memset(r, 0, sizeof(*r));
	snprintf(r->orig, sizeof(r->orig), "%s", name);
	for (int i = 0; i < 6; i++)
		r->mac[i] = (uint8_t)b[i];
	r->mtu = mtu;
	r->up = !strcmp(up, "up");
	snprintf(r->cid, sizeof(r->cid), "%s", cid);
	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	if (*rest == ':')
		snprintf(r->alias, sizeof(r->alias), "%s", rest + 1);
	return true;
}

bool netd_host_rec_alias_is(const char *alias, const char *cid, const char *ifname)
{
	struct netd_host_rec r;

	return netd_host_rec_from_alias(alias, &r) && !strcmp(r.cid, cid) && !strcmp(r.ifname, ifname);
}

/* ---- the state file ---- */

static void rec_path(const char *dir, const char *cid, const char *ifname, char *out, size_t len)
{
	snprintf(out, len, "%s/%s@%s", dir, cid, ifname);
}

int netd_host_rec_save(const char *dir, const struct netd_host_rec *r, struct netd_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], mac[18];
	json_t *j;
	int rc;

	if ((rc = netd_mkdir_p(dir, 0700)) < 0)
		return netd_err_set(err, rc, CNI_ERR_IO, "create %s: %s", dir, strerror(-rc));
	rec_path(dir, r->cid, r->ifname, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	j = json_pack("{s:s, s:s, s:i, s:b, s:s, s:s, s:s, s:s, s:s, s:i}", "device", r->orig, "mac",
		      netd_mac_str(r->mac, mac), "mtu", r->mtu, "up", r->up, "alias", r->alias, "containerID", r->cid,
		      "ifname", r->ifname, "netns", r->netns, "network", r->network, "ifindex", r->ifindex);
	if (!j)
		return netd_err_set(err, -ENOMEM, CNI_ERR_IO, "out of memory");
	errno = 0;
	rc = json_dump_file(j, tmp, JSON_COMPACT);
	json_decref(j);
	if (rc < 0 || rename(tmp, path) < 0) {
		rc = errno ? -errno : -EIO;
		unlink(tmp);
		return netd_err_set(err, rc, CNI_ERR_IO, "write %s: %s", path, strerror(-rc));
	}
	return 0;
}

/* A string member into a fixed buffer: false when missing or too long. */
static bool str_field(const json_t *j, const char *key, char *dst, size_t size)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s && (size_t)snprintf(dst, size, "%s", s) < size;
}

static int load_path(const char *path, struct netd_host_rec *r)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *mac;
	int rc = -EINVAL;

	if (!j)
		return access(path, F_OK) < 0 ? -ENOENT : -EINVAL;
	memset(r, 0, sizeof(*r));
	if (str_field(j, "device", r->orig, sizeof(r->orig)) && str_field(j, "alias", r->alias, sizeof(r->alias)) &&
	    str_field(j, "containerID", r->cid, sizeof(r->cid)) &&
	    str_field(j, "ifname", r->ifname, sizeof(r->ifname)) && str_field(j, "netns", r->netns, sizeof(r->netns)) &&
	    str_field(j, "network", r->network, sizeof(r->network)) &&
	    (mac = json_string_value(json_object_get(j, "mac"))) && netd_mac_parse(mac, r->mac) == 0) {
		r->mtu = (int)json_integer_value(json_object_get(j, "mtu"));
		r->up = json_is_true(json_object_get(j, "up"));
		r->ifindex = (int)json_integer_value(json_object_get(j, "ifindex"));
		rc = 0;
	}
	json_decref(j);
	return rc;
}

int netd_host_rec_load(const char *dir, const char *cid, const char *ifname, struct netd_host_rec *r)
{
	char path[PATH_MAX];

	rec_path(dir, cid, ifname, path, sizeof(path));
	return load_path(path, r);
}

void netd_host_rec_remove(const char *dir, const char *cid, const char *ifname)
{
	char path[PATH_MAX];

	rec_path(dir, cid, ifname, path, sizeof(path));
	unlink(path);
}

int netd_host_rec_list(const char *dir, struct netd_host_rec **out, size_t *n)
{
	struct netd_host_rec *all = NULL, *grown;
	size_t cap = 0;
	struct dirent *d;
	DIR *dp;

	*out = NULL;
	*n = 0;
	if (!(dp = opendir(dir)))
		return 0;
	while ((d = readdir(dp))) {
		char path[PATH_MAX];
		size_t len = strlen(d->d_name);

		/* a record's name, not a write in progress */
		if (d->d_name[0] == '.' || !strchr(d->d_name, '@') || (len > 4 && !strcmp(d->d_name + len - 4, ".tmp")))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			if (!(grown = realloc(all, cap * sizeof(*all)))) {
				free(all);
				closedir(dp);
				*n = 0;
				return -ENOMEM;
			}
			all = grown;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (load_path(path, &all[*n]) == 0)
			(*n)++;
	}
	closedir(dp);
	*out = all;
	return 0;
}
