/* resolv.h — a resolv.conf read into a CNI dns object: nameserver (each),
 * domain (the last), search and options (words, in order). Lines starting
 * with # or ; are comments. Used for netd-ipam's resolvConf; the same reading
 * serves anything that wants the host's upstream servers.
 */
#ifndef NETD_RESOLV_H
#define NETD_RESOLV_H

#include "netd/cni.h"
#include "netd/err.h"

/* Adds to what dns already holds. Code 5 (I/O) when path cannot be read. */
int netd_resolv_conf_read(const char *path, struct cni_dns *dns, struct netd_err *err);

#endif
