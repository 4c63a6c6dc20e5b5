/* resolv.c — reading a resolv.conf: nameserver, domain, search, options. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/resolv.h"

static int add_words(char ***list, size_t *n, char *rest)
{
	char *save = NULL;
	int rc;

	for (char *w = strtok_r(rest, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if ((rc = cni_dns_add(list, n, w)) < 0)
			return rc;
	return 0;
}

int netd_resolv_conf_read(const char *path, struct cni_dns *dns, struct netd_err *err)
{
	char line[1024];
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return netd_err_set(err, -errno, CNI_ERR_IO, "cannot read %s: %m", path);
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *save = NULL, *key, *rest;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == ';')
			continue;
		key = strtok_r(line, " \t", &save);
		rest = save;
		if (!key || !rest)
			continue;
		if (!strcmp(key, "nameserver")) {
			char *w = strtok_r(rest, " \t", &save);

			if (w)
				rc = cni_dns_add(&dns->nameservers, &dns->n_nameservers, w);
		} else if (!strcmp(key, "domain")) {
			char *w = strtok_r(rest, " \t", &save);

			if (w) {
				free(dns->domain);
				if (!(dns->domain = strdup(w)))
					rc = -ENOMEM;
			}
		} else if (!strcmp(key, "search")) {
			rc = add_words(&dns->search, &dns->n_search, rest);
		} else if (!strcmp(key, "options")) {
			rc = add_words(&dns->options, &dns->n_options, rest);
		}
	}
	fclose(f);
	if (rc < 0)
		return netd_err_set(err, -ENOMEM, NETD_ERR_INTERNAL, "out of memory");
	return 0;
}
