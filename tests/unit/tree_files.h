/* SPDX-License-Identifier: MIT */
/* Unit tests' trees of plain files (a copied control tree, a config directory). */
#ifndef L1_TESTS_TREE_FILES_H
#define L1_TESTS_TREE_FILES_H

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmocka_all.h"

/* Write len bytes of content to root/rel, making the directories on the way. */
static inline void tree_files__put(const char *root, const char *rel, const char *content,
				   size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fwrite(content, 1, len, fp);
	fclose(fp);
}

#endif
