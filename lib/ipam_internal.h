/* ipam_internal.h — small helpers the ipam_*.c files share (not public). */
#ifndef NETD_IPAM_INTERNAL_H
#define NETD_IPAM_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/err.h"

/* Code 7 with a message naming the field. */
static inline int __attribute__((format(printf, 2, 3))) ipam_conf_err(struct netd_err *err, const char *fmt, ...)
{
	char msg[NETD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s", msg);
}

/* Append elem (size bytes) to *arr of *n. */
static inline int ipam_push(void **arr, size_t *n, size_t size, const void *elem)
{
	void *p = realloc(*arr, (*n + 1) * size);

	if (!p)
		return -ENOMEM;
	memcpy((char *)p + *n * size, elem, size);
	*arr = p;
	(*n)++;
	return 0;
}

static inline int ipam_oom(struct netd_err *err)
{
	return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
}

#endif
