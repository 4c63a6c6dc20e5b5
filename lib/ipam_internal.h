/* ipam_internal.h — small helpers the ipam_*.c files share (not public). */
#ifndef NETD_IPAM_INTERNAL_H
#define NETD_IPAM_INTERNAL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netd/err.h"

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
