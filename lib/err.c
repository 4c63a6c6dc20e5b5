#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netd/err.h"

int netd_err_set(struct netd_err *err, int rc, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->msg[0])
		return rc;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

void netd_err_prefix(struct netd_err *err, int code, const char *fmt, ...)
{
	char prefix[NETD_ERR_MSG_MAX], old[NETD_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return;
	if (!err->code)
		err->code = code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s%s%s", prefix, old[0] ? ": " : "", old);
}

void netd_err_details(struct netd_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->details, sizeof(err->details), fmt, ap);
	va_end(ap);
}

void netd_err_collect(struct netd_err *first, struct netd_err *err)
{
	if (!first->msg[0])
		*first = *err;
	memset(err, 0, sizeof(*err));
}

int netd_err_collected(const struct netd_err *first, struct netd_err *err)
{
	if (first->msg[0]) {
		*err = *first;
		return -EIO;
	}
	memset(err, 0, sizeof(*err));
	return 0;
}
