/* ctl.c — what netdctl's commands share: global options, messages, tables,
 * loading a network's conflist. Calls nothing in the command files. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "netd/util.h"

struct ctl_opts opts;

int ctl_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("netdctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void ctl_table(const char *const *cells, size_t nrows, size_t ncols)
{
	size_t w[16] = {0};

	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols && c < 16; c++)
			if (strlen(cells[r * ncols + c]) > w[c])
				w[c] = strlen(cells[r * ncols + c]);
	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			if (c + 1 < ncols)
				printf("%-*s  ", (int)w[c], cells[r * ncols + c]);
			else
				printf("%s", cells[r * ncols + c]);
		}
		putchar('\n');
	}
}

int ctl_conflist_load(const char *name, json_t **out, struct netd_err *err)
{
	char path[4096];
	json_error_t je;
	json_t *j, *p, *e;
	size_t i;

	if (!netd_name_valid(name))
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
				    "'%s' is not a valid network name (" NETD_NAME_RULE ")", name);
	snprintf(path, sizeof(path), "%s/%s.conflist", opts.conf_dir, name);
	if (!(j = json_load_file(path, 0, &je))) {
		if (access(path, F_OK) < 0)
			return netd_err_set(err, -ENOENT, NETD_ERR_NOT_FOUND, "no network '%s' (%s does not exist)", name,
					    path);
		return netd_err_set(err, -EINVAL, CNI_ERR_DECODE, "%s: %s (line %d)", path, je.text, je.line);
	}
	p = json_object_get(j, "plugins");
	if (!json_is_string(json_object_get(j, "cniVersion")) ||
	    !json_is_string(json_object_get(j, "name")) || strcmp(json_string_value(json_object_get(j, "name")), name) ||
	    !json_is_array(p) || !json_array_size(p)) {
		json_decref(j);
		return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG,
				    "%s: not a conflist for network '%s' (cniVersion, name, plugins)", path, name);
	}
	json_array_foreach(p, i, e)
		if (!json_is_string(json_object_get(e, "type"))) {
			json_decref(j);
			return netd_err_set(err, -EINVAL, CNI_ERR_INVALID_CONFIG, "%s: plugins[%zu] has no type", path, i);
		}
	*out = j;
	return 0;
}
