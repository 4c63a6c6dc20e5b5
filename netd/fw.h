/* fw.h — netd's own nftables table `inet netd`: published ports (DNAT
 * maps), isolation between networks (sets), kept in step with the state.
 *
 * The daemon calls it around every endpoint change; it answers 400/409
 * before anything changes, and applies each change as one atomic batch.
 * It keeps one netlink connection for the daemon's life and a second socket
 * listening to nftables events: when anyone else deletes or flushes part of
 * the table, the whole table is rebuilt from memory in one batch about
 * 50 ms later. Layout and rules: fw.c and docs/netd.md ("Isolation and
 * published ports"). The `user` chain is the operator's: created empty if
 * missing, never flushed or changed.
 */
#ifndef NETD_FW_H
#define NETD_FW_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"

struct netd_fw;

/* Open the connections for table `inet <name>`, register every endpoint of s (in registration
 * order; an endpoint whose mappings conflict with an earlier one keeps
 * its isolation but not those mappings: logged through warn) and build the
 * table in one batch. */
int netd_fw_open(struct netd_fw **out, const char *name, const struct netd_state *s,
		 void (*warn)(const char *msg), struct netd_err *err);
void netd_fw_free(struct netd_fw *fw);

/* ep is being registered, replacing old (NULL: none). Validates its port
 * mappings against this host (hostIP must be one of its addresses) and the
 * other holders (pub.h), then applies the change in one batch. err->code:
 * CNI_ERR_INVALID_CONFIG (HTTP 400), NETD_ERR_IN_USE (409), NETD_ERR_KERNEL
 * or NETD_ERR_INTERNAL (500). Nothing changed on failure. */
int netd_fw_put(struct netd_fw *fw, const struct netd_ep *ep, const struct netd_ep *old, struct netd_err *err);
/* ep is being unregistered. */
int netd_fw_del(struct netd_fw *fw, const struct netd_ep *ep, struct netd_err *err);
/* Memory and table rebuilt from s (after a failure left them unsure). */
int netd_fw_sync(struct netd_fw *fw, const struct netd_state *s, struct netd_err *err);

/* The loop's part: fd to watch (nftables events), read them when readable,
 * and when to call tick (-1: no need); tick rebuilds the table when due. */
int netd_fw_fd(const struct netd_fw *fw);
void netd_fw_event(struct netd_fw *fw);
int netd_fw_timeout_ms(const struct netd_fw *fw);
void netd_fw_tick(struct netd_fw *fw);

/* A problem the operator should know of ("" if none), e.g. another table's
 * FORWARD chain with policy drop that would drop what netd accepts. */
const char *netd_fw_warning(const struct netd_fw *fw);
/* Published (family, protocol, host port) entries; table rebuilds so far. */
size_t netd_fw_published(const struct netd_fw *fw);
unsigned long netd_fw_rebuilds(const struct netd_fw *fw);

#endif
