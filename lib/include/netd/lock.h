/* lock.h — named advisory locks under /run/netd/locks, one file per name.
 *
 * A plugin holds the lock of its network for a whole ADD, DEL or GC, so that
 * concurrent runs on one bridge see each other's work complete (a bridge
 * created and given its gateway before the next container attaches; a failed
 * ADD can remove the bridge it created without racing another ADD). flock(2)
 * locks vanish with the process, so a crash never leaves one behind.
 */
#ifndef NETD_LOCK_H
#define NETD_LOCK_H

#include "netd/err.h"

#define NETD_LOCK_DIR "/run/netd/locks"

/* Take the exclusive lock `name` (a plain file name) in `dir` (NULL or "" =
 * NETD_LOCK_DIR; plugins pass NETD_LOCK_DIR from the env they were given, so
 * tests can point it elsewhere), waiting up to timeout_ms (then -ETIMEDOUT,
 * CNI code 11). The directory is created if missing. Returns an fd to pass to
 * netd_lock_release. */
int netd_lock_acquire(const char *dir, const char *name, int timeout_ms, struct netd_err *err);
void netd_lock_release(int fd);

#endif
