/* log.h — diagnostics to stderr, never stdout, which belongs to the CNI
 * result (under systemd the journal collects the daemon's stderr). Library
 * code does not log: it returns errors. Binaries log with context.
 */
#ifndef NETD_LOG_H
#define NETD_LOG_H

enum netd_log_level { NETD_LOG_ERR = 3, NETD_LOG_WARN = 4, NETD_LOG_INFO = 6, NETD_LOG_DEBUG = 7 };

/* ident: program name; level: messages above it are dropped. Binaries let
 * NETD_LOG_LEVEL=err|warn|info|debug in their environment override the level
 * (cni_plugin_run reads it from the env it is given); the library reads no
 * environment itself. */
void netd_log_init(const char *ident, enum netd_log_level level);
/* Parse "err", "warn", "info", "debug"; -1 if unknown. */
int netd_log_level_parse(const char *s);
void netd_log(enum netd_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) netd_log(NETD_LOG_ERR, __VA_ARGS__)
#define log_warn(...) netd_log(NETD_LOG_WARN, __VA_ARGS__)
#define log_info(...) netd_log(NETD_LOG_INFO, __VA_ARGS__)
#define log_debug(...) netd_log(NETD_LOG_DEBUG, __VA_ARGS__)

#endif
