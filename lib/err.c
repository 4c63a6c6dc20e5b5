#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netd/err.h"
#include "netd/util.h"

/* Messages quote what users gave (ids, names, file contents) and end up in
 * JSON, which holds only UTF-8: a byte that does not fit becomes '?', so a
 * message is never dropped for its encoding. */
static void scrub(char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

		if (i + k <= n && netd_utf8_valid(s + i, k))
			i += k;
		else
			s[i++] = '?';
	}
}

__attribute__((format(printf, 4, 0)))
static int vset(struct netd_err *err, int rc, int code, const char *fmt, va_list ap)
{
	if (!err || err->msg[0])
		return rc;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	scrub(err->msg);
	return rc;
}

int netd_err_set(struct netd_err *err, int rc, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = vset(err, rc, code, fmt, ap);
	va_end(ap);
	return rc;
}

int netd_err_invalid(struct netd_err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vset(err, -EINVAL, CNI_ERR_INVALID_CONFIG, fmt, ap);
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
	scrub(err->msg);
}

void netd_err_details(struct netd_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->details, sizeof(err->details), fmt, ap);
	va_end(ap);
	scrub(err->details);
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

int netd_err_http_status(int code)
{
	switch (code) {
	case CNI_ERR_INCOMPATIBLE_VERSION:
	case CNI_ERR_UNSUPPORTED_FIELD:
	case CNI_ERR_INVALID_ENV:
	case CNI_ERR_DECODE:
	case CNI_ERR_INVALID_CONFIG:
		return 400;
	case CNI_ERR_UNKNOWN_CONTAINER:
	case NETD_ERR_NOT_FOUND:
		return 404;
	case NETD_ERR_IN_USE:
		return 409;
	case CNI_ERR_TRY_LATER:
		return 503;
	default:
		return 500;
	}
}
