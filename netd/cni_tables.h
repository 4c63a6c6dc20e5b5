/* cni_tables.h — netd keeps the plugins' tables (`inet netd_cni`:
 * masquerade, `bridge netd_cni`: macspoofchk) alive across `nft flush
 * ruleset` and firewall reloads.
 *
 * The plugins write those tables and nobody else does; they cannot notice
 * a flush, netd can. Its copy of their elements comes from the plugins' own
 * record of their changes (lib/include/netd/nft_log.h), which also holds a
 * DEL that found its table gone and whatever happened while netd was not
 * running. nftables events say when to look: after the plugins add
 * elements, the record is applied to the copy (debounced, ~100 ms); when
 * a table, chain, set, rule or element of theirs is deleted, the elements
 * the record says should be there are put back (~50 ms later, one batch
 * under the plugins' lock, lib/nft_copy.c) and logged, as at netd's start.
 * Only adds: whatever a plugin did in the meantime stays. docs/DESIGN.md,
 * "What heals what".
 */
#ifndef NETD_CNI_TABLES_H
#define NETD_CNI_TABLES_H

#include <stddef.h>

#include "netd/err.h"

struct netd_cnit;

/* Open the event socket and read the first copy. warn: one line per heal
 * or failure. */
int netd_cnit_open(struct netd_cnit **out, void (*warn)(const char *msg), struct netd_err *err);
void netd_cnit_free(struct netd_cnit *k);

/* The loop's part: fd to watch, read it when readable, when to call tick
 * (-1: no need), tick (re-read the copy or put it back, when due). */
int netd_cnit_fd(const struct netd_cnit *k);
void netd_cnit_event(struct netd_cnit *k);
int netd_cnit_timeout_ms(const struct netd_cnit *k);
void netd_cnit_tick(struct netd_cnit *k);

/* Elements in the copy; heals so far. */
size_t netd_cnit_copied(const struct netd_cnit *k);
unsigned long netd_cnit_heals(const struct netd_cnit *k);

#endif
