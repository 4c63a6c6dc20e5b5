#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netd/log.h"

static const char *log_ident = "netd";
static enum netd_log_level log_level = NETD_LOG_WARN;

int netd_log_level_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "err") || !strcmp(s, "error"))
		return NETD_LOG_ERR;
	if (!strcmp(s, "warn") || !strcmp(s, "warning"))
		return NETD_LOG_WARN;
	if (!strcmp(s, "info"))
		return NETD_LOG_INFO;
	if (!strcmp(s, "debug"))
		return NETD_LOG_DEBUG;
	return -1;
}

void netd_log_init(const char *ident, enum netd_log_level level)
{
	log_ident = ident;
	log_level = level;
}

void netd_log(enum netd_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {[3] = "error", [4] = "warning", [6] = "info", [7] = "debug"};
	va_list ap;

	if (lvl > log_level)
		return;
	fprintf(stderr, "%s: %s: ", log_ident, names[lvl] ? names[lvl] : "log");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
