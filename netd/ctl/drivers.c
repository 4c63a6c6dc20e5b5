/* drivers.c — what `netdctl network` needs to know about drivers and the
 * bridges it names: which netd-<driver> plugins are installed, the bridge name
 * of a network, and removing that bridge once nothing uses it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "netd/nl.h"

static const char *const drivers[] = {"bridge", "macvlan", "host", "overlay"};

bool ctl_driver_known(const char *driver)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (!strcmp(driver, drivers[i]))
			return true;
	return false;
}

bool ctl_driver_installed(const char *driver)
{
	char dirs[4096], path[4200], *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s", opts.cni_path);
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/netd-%s", d, driver);
		if (access(path, X_OK) == 0)
			return true;
	}
	return false;
}

void ctl_drivers_installed(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (ctl_driver_installed(drivers[i]) && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", drivers[i]);
	if (!buf[0])
		snprintf(buf, size, "none");
}

/* Names up to 12 characters keep their readable "nd-NAME" (as before, so
 * existing bridges keep their names). A longer name cannot fit in IFNAMSIZ
 * whole: "nd_", its first 4 characters and 8 hex digits of a hash of all of
 * it. The '_' in third place keeps the two forms apart, so a short name can
 * never produce a long name's bridge; two long names colliding in 32 bits is
 * caught when the second network is created (ctl_bridge_user). */
void ctl_bridge_name(const char *name, char out[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	if (strlen(name) <= 12) {
		snprintf(out, 16, "nd-%s", name);
		return;
	}
	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	snprintf(out, 16, "nd_%.4s%08x", name, h);
}

int ctl_bridge_remove_unused(const char *br, struct netd_err *err)
{
	struct netd_nl *nl = NULL;
	struct netd_link link, *ports = NULL;
	size_t n = 0;
	int rc;

	if ((rc = netd_nl_open(-1, &nl, err)) < 0)
		return rc;
	rc = netd_nl_link_get(nl, br, &link, err);
	if (rc == -ENODEV || (rc == 0 && strcmp(link.kind, "bridge"))) {
		rc = 0; /* never made (no container ever attached), or not ours to remove */
		goto out;
	}
	if (rc < 0 || (rc = netd_nl_link_list_master(nl, link.ifindex, &ports, &n, err)) < 0)
		goto out;
	if (n) {
		rc = netd_err_set(err, -EBUSY, NETD_ERR_IN_USE, "bridge %s still has %zu port%s (%s%s)", br, n,
				  n == 1 ? "" : "s", ports[0].name, n > 1 ? ", ..." : "");
		goto out;
	}
	if ((rc = netd_nl_link_del(nl, link.ifindex, err)) < 0)
		goto out;
	rc = 1;
out:
	free(ports);
	netd_nl_free(nl);
	return rc;
}
