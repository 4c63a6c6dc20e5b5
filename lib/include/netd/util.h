/* util.h — the one rule for each kind of name, mkdir -p, and growing arrays.
 *
 * Every binary checks names with these, so what a main plugin accepts the
 * daemon and netd-endpoint accept too, and a name that is refused is refused
 * before anything is changed, with the same words everywhere (the *_RULE
 * strings are meant for error messages).
 *
 *   name          network, container name, alias, driver: [A-Za-z0-9][A-Za-z0-9_.-]*,
 *                 at most NETD_NAME_MAX bytes (the CNI spec's alphabet for
 *                 network names; the length keeps "<name>.json", "<name>.lock"
 *                 and an endpoint id well inside a file name)
 *   container id  the same alphabet, at most NETD_CID_MAX bytes (runtimes use
 *                 64 hex digits; the id is part of file names and link aliases)
 *   ifname        what the kernel takes as a link name: 1-15 bytes, not "." or
 *                 "..", no '/', ':', white space or control characters; also
 *                 valid UTF-8, since it goes into JSON results
 */
#ifndef NETD_UTIL_H
#define NETD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NETD_NAME_MAX 64
#define NETD_CID_MAX 128
#define NETD_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

#define NETD_NAME_RULE "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
#define NETD_CID_RULE "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
#define NETD_IFNAME_RULE "1-15 bytes, not '.' or '..', no '/', ':', white space or control characters"

bool netd_name_valid(const char *s);
bool netd_cid_valid(const char *s);
bool netd_ifname_valid(const char *s);

/* Is s[0..len) well-formed UTF-8 (no overlongs, no surrogates)? */
bool netd_utf8_valid(const char *s, size_t len);

/* mkdir -p: missing parents are made 0755, the last component `mode`; an
 * existing directory is fine. Returns 0 or a negative errno. */
int netd_mkdir_p(const char *path, mode_t mode);

/* Room for element n of an array v of *cap elements of `size` bytes each:
 * v itself while n < *cap, else v reallocated to twice *cap (`first` when
 * *cap is 0) with *cap updated. NULL when out of memory; v is then unchanged
 * and still the caller's. The new slots are not cleared.
 *
 *     struct item *nv = netd_grow(l->v, &l->cap, l->n, sizeof(*nv), 16);
 *     if (!nv)
 *         return -ENOMEM;
 *     l->v = nv;
 *     l->v[l->n++] = item;
 */
void *netd_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

#endif
