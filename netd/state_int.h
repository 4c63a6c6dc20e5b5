/* state_int.h — what the state_*.c files share with each other; nothing
 * else includes it (the state's interface is daemon.h).
 *
 *   state_record.c   validation and canonical JSON of endpoint/network records
 *   state_journal.c  network files, the journal's record format, append
 *   state_compact.c  snapshot + compaction, the loop's housekeeping
 *   state.c          the in-memory store
 *   state_load.c     netd_state_open: loading a state dir
 */
#ifndef NETD_STATE_INT_H
#define NETD_STATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon.h"

#define NET_DIR "networks"
#define HDR_LEN 20		/* "P 0000001a 1c291ca3 " */
#define J_PREFIX "endpoints."

/* state_record.c: stored=true reads a record as persisted (keeps its
 * "registered" time, allows "implicit"). */
int state_ep_parse(const json_t *body, bool stored, struct netd_ep **out, struct netd_err *err);
int state_net_parse(const json_t *body, bool stored, struct netd_net **out, struct netd_err *err);
/* An endpoint in one allocation (netd_ep_free frees it): the strings id,
 * containerID, name, network, ifname, netns (in that order, not
 * NUL-terminated) and the record's JSON. NULL if out of memory. */
struct netd_ep *state_ep_new(const char *const f[6], const size_t flen[6], const char *json, size_t jlen);

/* state_journal.c */
int state_write_atomic(int dirfd, const char *name, const char *data, bool sync, struct netd_err *err);
int state_unlink_durable(int dirfd, const char *name, bool sync, struct netd_err *err);
uint32_t state_rec_crc(char op, const char *payload, size_t len);
void state_rec_header(char hdr[HDR_LEN + 1], char op, const char *payload, size_t len);
int state_hex8(const char *p, uint32_t *v);
void state_gen_name(char *buf, size_t size, unsigned long long gen, const char *ext);
/* "endpoints.0000000003.log" -> 'l', 3; ".snap" -> 's'; anything else 0. */
char state_parse_name(const char *name, unsigned long long *gen);
uint64_t state_now_ms(void);
/* Count and keep a problem that stops nothing; tell netd_state_warn. */
void state_warn(struct netd_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int state_journal_create(struct netd_state *s, unsigned long long gen, struct netd_err *err);
int state_journal_append(struct netd_state *s, char op, const char *payload, struct netd_err *err);

/* state_compact.c */
void state_remove_older(struct netd_state *s, unsigned long long gen);
int state_wait_child(struct netd_state *s, struct netd_err *err);

/* state.c */
void state_unlink_ep(struct netd_state *s, struct netd_ep *ep);
void state_link_net(struct netd_state *s, struct netd_net *n);
int state_ensure_net(struct netd_state *s, const char *name, struct netd_err *err);
/* Replace or insert in memory only. */
void state_store_ep(struct netd_state *s, struct netd_ep *ep, bool *replaced);

#endif
