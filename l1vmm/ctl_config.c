/* SPDX-License-Identifier: MIT */
/*
 * DOC: --config DIR: the control tree's layout, read from plain files.
 *
 * Two passes over DIR:
 *   1. every vms/NAME/ directory becomes a struct vm_ctl (defaults from
 *      vm_ctl__new()) registered in the tree as vms/NAME/, so the VM table
 *      describes its files exactly as in a live tree;
 *   2. every regular file under DIR is looked up in the tree at its relative
 *      path. Unknown paths are errors. Configuration entries (CTL_CONFIG) are
 *      applied with ctl__write(), the same strict parse and range check a
 *      live write gets. Read-only entries (statistics, state) and READMEs are
 *      accepted and ignored, so a `cp -r` of a live tree reads back.
 * Finally each VM must have given its CTL_REQUIRED entries (mem).
 *
 * Every error is one line that starts with the file's path under DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "l1vmm/ctl.h"
#include "l1vmm/parse.h"

#define MAX_DEPTH 8 /* deeper than any tree path: vms/NAME/stats/exits/io is 5 */

struct loader {
	struct ctl_tree *t;
	const char *root;       /* DIR as given */
	struct ctl_config *cfg;
	char *err;
	size_t errlen;
};

/* Set the error: "DIR/rel: message". Returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail(struct loader *l, const char *rel, const char *fmt, ...)
{
	int n = snprintf(l->err, l->errlen, "%s%s%s: ", l->root, *rel ? "/" : "", rel);
	if (n >= 0 && (size_t)n < l->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* DIR/rel into path (PATH_MAX bytes). False (err set) when too long. */
static bool full_path(struct loader *l, const char *rel, char *path)
{
	if ((size_t)snprintf(path, PATH_MAX, "%s/%s", l->root, rel) < PATH_MAX)
		return true;
	fail(l, rel, "path too long");
	return false;
}

static int no_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* The names in dir/rel, sorted. -1 with err set. */
static int list_dir(struct loader *l, const char *rel, struct dirent ***names)
{
	char path[PATH_MAX];
	if (!full_path(l, rel, path))
		return -1;
	int n = scandir(path, names, no_dots, alphasort);
	if (n < 0)
		return fail(l, rel, "cannot read directory: %s", strerror(errno));
	return n;
}

static void free_names(struct dirent **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Join rel and name into out. False (err set) when too long. */
static bool join(struct loader *l, char *out, size_t len, const char *rel, const char *name)
{
	if ((size_t)snprintf(out, len, "%s%s%s", rel, *rel ? "/" : "", name) < len)
		return true;
	fail(l, rel, "%s: path too long", name);
	return false;
}

static int file_type(struct loader *l, const char *rel, mode_t *mode)
{
	char path[PATH_MAX];
	struct stat st;
	if (!full_path(l, rel, path))
		return -1;
	if (lstat(path, &st) < 0)
		return fail(l, rel, "%s", strerror(errno));
	*mode = st.st_mode & S_IFMT;
	return 0;
}

/* ---- pass 1: the VMs ---- */

static int add_vm(struct loader *l, const char *name)
{
	char rel[PATH_MAX];
	mode_t mode;
	if (!join(l, rel, sizeof(rel), "vms", name) || file_type(l, rel, &mode) < 0)
		return -1;
	if (mode != S_IFDIR)
		return fail(l, rel, "a VM must be a directory");
	if (!vm_ctl__valid_name(name))
		return fail(l, rel, "bad VM name (1 to %d of A-Z a-z 0-9 _ - ., not starting "
			    "with '.')", VM_CTL_NAME_MAX);
	struct vm_ctl **vms = realloc(l->cfg->vms, (l->cfg->nr_vms + 1) * sizeof(*vms));
	struct vm_ctl *vmc = vm_ctl__new(name);
	if (vms)
		l->cfg->vms = vms;
	if (!vms || !vmc) {
		vm_ctl__free(vmc);
		return fail(l, rel, "out of memory");
	}
	int rc = vm_ctl__register(l->t, vmc);
	if (rc < 0) {
		vm_ctl__free(vmc);
		return fail(l, rel, "%s",
			    rc == -EEXIST ? "a VM of that name already exists" : strerror(-rc));
	}
	l->cfg->vms[l->cfg->nr_vms++] = vmc;
	return 0;
}

static int add_vms(struct loader *l)
{
	mode_t mode;
	char path[PATH_MAX];
	if (!full_path(l, "vms", path))
		return -1;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (file_type(l, "vms", &mode) < 0)
		return -1;
	if (mode != S_IFDIR)
		return fail(l, "vms", "not a directory");
	struct dirent **names;
	int n = list_dir(l, "vms", &names);
	if (n < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++)
		if (strcmp(names[i]->d_name, "README") != 0)
			rc = add_vm(l, names[i]->d_name);
	free_names(names, n);
	return rc;
}

/* ---- pass 2: the files ---- */

/* Read rel (at most CTL_VALUE_MAX + 1 bytes with its newline) into buf. Length or -1. */
static ssize_t read_value(struct loader *l, const char *rel, char *buf, size_t cap)
{
	char path[PATH_MAX];
	if (!full_path(l, rel, path))
		return -1;
	int fd = parse__open_regular(path, O_NOFOLLOW);
	if (fd < 0)
		return fail(l, rel, "cannot read: %s", errno == EINVAL ? "not a regular file" :
			    strerror(errno));
	size_t len = 0;
	ssize_t n;
	while (len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(l, rel, "cannot read: %s", strerror(errno));
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len == cap)
		return fail(l, rel, "value too long (more than %u bytes)", (unsigned)CTL_VALUE_MAX);
	return (ssize_t)len;
}

/* A printable excerpt of a bad value for the error message. */
static void excerpt(char *out, size_t outlen, const char *v, size_t len)
{
	if (len && v[len - 1] == '\n')
		len--;
	size_t o = 0;
	for (size_t i = 0; i < len && o + 4 < outlen; i++)
		out[o++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	if (o + 4 >= outlen)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
}

static int apply_file(struct loader *l, const char *rel, const char *name)
{
	if (strcmp(name, "README") == 0)
		return 0;
	const struct ctl_entry *e;
	void *obj;
	int rc = ctl__lookup(l->t, rel, &e, &obj);
	if (rc == -ENOENT || rc == -EISDIR)
		return fail(l, rel, "unknown file (see the README of its directory)");
	if (!(e->flags & CTL_CONFIG))
		return 0; /* a reading of a live tree: state, stats, host/ */
	char *buf = malloc(CTL_VALUE_MAX + 2);
	if (!buf)
		return fail(l, rel, "out of memory");
	ssize_t len = read_value(l, rel, buf, CTL_VALUE_MAX + 2);
	rc = len < 0 ? 0 : ctl__write(l->t, rel, buf, (size_t)len);
	if (len >= 0 && rc < 0) {
		char type[256], value[48];
		ctl__describe_type(e, type, sizeof(type));
		excerpt(value, sizeof(value), buf, (size_t)len);
		if (rc == -EINVAL)
			fail(l, rel, "invalid value \"%s\": expected %s", value, type);
		else
			fail(l, rel, "cannot apply: %s", strerror(-rc));
	}
	free(buf);
	return len < 0 || rc < 0 ? -1 : 0;
}

static int walk(struct loader *l, const char *rel, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(l, rel, "unknown directory (too deep)");
	struct dirent **names;
	int n = list_dir(l, rel, &names);
	if (n < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		char child[PATH_MAX];
		mode_t mode;
		if (!join(l, child, sizeof(child), rel, names[i]->d_name) ||
		    file_type(l, child, &mode) < 0) {
			rc = -1;
		} else if (mode == S_IFDIR) {
			struct ctl_stat st;
			if (ctl__stat(l->t, child, &st) < 0 || !st.is_dir) {
				rc = fail(l, child, "unknown directory");
			} else {
				rc = walk(l, child, depth + 1);
			}
		} else if (mode == S_IFREG) {
			rc = apply_file(l, child, names[i]->d_name);
		} else {
			rc = fail(l, child, "not a regular file or a directory");
		}
	}
	free_names(names, n);
	return rc;
}

/* ---- required values ---- */

static int check_required(struct loader *l)
{
	const struct ctl_table *table = vm_ctl__table();
	for (size_t v = 0; v < l->cfg->nr_vms; v++) {
		for (size_t i = 0; i < table->nr_entries; i++) {
			const struct ctl_entry *e = &table->entries[i];
			if (!(e->flags & CTL_REQUIRED))
				continue;
			char rel[PATH_MAX], path[PATH_MAX];
			snprintf(rel, sizeof(rel), "vms/%s/%s", l->cfg->vms[v]->name, e->path);
			if (!full_path(l, rel, path))
				return -1;
			if (access(path, F_OK) < 0)
				return fail(l, rel, "missing: VM %s needs it (%s)",
					    l->cfg->vms[v]->name, e->doc);
		}
	}
	return 0;
}

int ctl_config__load(struct ctl_tree *t, const char *dir, struct ctl_config *cfg,
		     char *err, size_t errlen)
{
	*cfg = (struct ctl_config){ 0 };
	struct loader l = { .t = t, .root = dir, .cfg = cfg, .err = err, .errlen = errlen };
	struct stat st;
	if (stat(dir, &st) < 0)
		return fail(&l, "", "cannot read config directory: %s", strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(&l, "", "the config is not a directory");
	if (add_vms(&l) < 0 || walk(&l, "", 0) < 0 || check_required(&l) < 0) {
		ctl_config__release(t, cfg);
		return -1;
	}
	return 0;
}

void ctl_config__release(struct ctl_tree *t, struct ctl_config *cfg)
{
	for (size_t i = 0; i < cfg->nr_vms; i++) {
		vm_ctl__unregister(t, cfg->vms[i]);
		vm_ctl__free(cfg->vms[i]);
	}
	free(cfg->vms);
	*cfg = (struct ctl_config){ 0 };
}
