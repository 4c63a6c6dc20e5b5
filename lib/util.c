#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netd/util.h"

static bool alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Locale-free on purpose: a name valid on one host is valid on every host. */
static bool alphabet_valid(const char *s, size_t max)
{
	size_t n;

	if (!s || !alnum((unsigned char)s[0]))
		return false;
	for (n = 0; s[n]; n++)
		if (n >= max || !(alnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.' || s[n] == '-'))
			return false;
	return true;
}

bool netd_name_valid(const char *s)
{
	return alphabet_valid(s, NETD_NAME_MAX);
}

bool netd_cid_valid(const char *s)
{
	return alphabet_valid(s, NETD_CID_MAX);
}

bool netd_ifname_valid(const char *s)
{
	size_t n;

	if (!s || !(n = strlen(s)) || n > NETD_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '/' || c == ':')
			return false;
	}
	return netd_utf8_valid(s, n);
}

bool netd_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t need;
		unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return false;
		}
		if (len - i <= need || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

int netd_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	struct stat st;

	if (!path || !*path)
		return -EINVAL;
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	/* EEXIST also means a file of that name: say so here, not at the first open inside it */
	if (stat(buf, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

void *netd_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c = *cap ? *cap * 2 : first;

	if (n < *cap)
		return v;
	if (c < *cap || (size && c > SIZE_MAX / size))
		return NULL;
	if (!(v = realloc(v, c * size)))
		return NULL;
	*cap = c;
	return v;
}
