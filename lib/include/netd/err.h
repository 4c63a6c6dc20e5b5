/* err.h — errors that carry a message up to where they are reported.
 *
 * Functions return 0 or a negative errno. When they fail they may also fill a
 * struct netd_err with a message for a person and an error code: always one of
 * enum netd_code below, in the library, the plugins, the daemon and netdctl
 * alike. Where the error leaves the program it is translated once: a plugin
 * prints it as a CNI error object, the daemon answers with
 * netd_err_http_status(code), netdctl exits 1. Passing NULL for the err
 * pointer is always allowed. The message is always valid UTF-8 (bytes that
 * are not become '?'), so it fits JSON.
 *
 *     struct netd_err err = {0};
 *     if ((rc = netd_nl_link_del(nl, "veth0", &err)) < 0)
 *         ...err.msg says what failed, err.code is e.g. NETD_ERR_KERNEL...
 */
#ifndef NETD_ERR_H
#define NETD_ERR_H

#include <stdarg.h>

/* CNI spec error codes (SPEC.md "Error"), plus our own (100+). */
enum netd_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_LATER = 11,
	CNI_ERR_NOT_AVAILABLE = 50, /* STATUS: the plugin cannot serve ADDs now */
	/* netd's own codes, documented in docs/errors.md */
	NETD_ERR_KERNEL = 100,    /* netlink / nftables refused a change */
	NETD_ERR_IPAM_FULL = 101, /* no free address in the range set */
	NETD_ERR_IN_USE = 102,    /* interface, name or address already taken */
	NETD_ERR_DRIFT = 103,     /* CHECK found state different from ADD's */
	NETD_ERR_NOT_FOUND = 104, /* no such network, endpoint or file (netd, netdctl) */
	NETD_ERR_INTERNAL = 999,
};

#define NETD_ERR_MSG_MAX 1024

struct netd_err {
	int code;			/* enum netd_code; 0 = not set yet */
	char msg[NETD_ERR_MSG_MAX];	/* what failed, for a person */
	char details[NETD_ERR_MSG_MAX];	/* optional extra (kernel ext-ack text, ...) */
};

/* Set code and message (printf-style) unless err is NULL or already set.
 * Always returns rc, so callers can write `return netd_err_set(err, -EINVAL, 7, ...)`.
 * The first error wins: a lower layer's precise message is not overwritten by a
 * caller's vaguer one; use netd_err_prefix to add context instead. */
int netd_err_set(struct netd_err *err, int rc, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The parsers' error: -EINVAL with code 7 (invalid config) and a message
 * naming the field, e.g. netd_err_invalid(err, "field '%s' must be a string", f). */
int netd_err_invalid(struct netd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend context: "bridge cni0: " + existing message. Sets code if unset. */
void netd_err_prefix(struct netd_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set details (e.g. the kernel's extended-ack text). */
void netd_err_details(struct netd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* DEL and GC keep going after an error and report the first. After each
 * failed step, netd_err_collect(&first, err) keeps err in first (if first is
 * still empty) and clears err for the next step; at the end
 * netd_err_collected(&first, err) puts the first error back into err and
 * returns -EIO, or clears err and returns 0. */
void netd_err_collect(struct netd_err *first, struct netd_err *err);
int netd_err_collected(const struct netd_err *first, struct netd_err *err);

/* The HTTP status that answers an error of `code`: 400 for what the client
 * sent (1, 2, 4, 6, 7), 404 for 3 and NETD_ERR_NOT_FOUND, 409 for
 * NETD_ERR_IN_USE, 503 for 11, 500 for the rest. */
int netd_err_http_status(int code);

/* True once a message was set. */
static inline int netd_err_isset(const struct netd_err *err) { return err && err->msg[0]; }

#endif
