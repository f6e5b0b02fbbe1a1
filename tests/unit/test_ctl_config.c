/* SPDX-License-Identifier: MIT */
/* --config DIR: a good tree, a copied live tree, and broken ones (each error names its file). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmocka_all.h"
#include "l1vmm/ctl.h"

struct fixture {
	char dir[64];
	struct ctl_tree *t;
	struct ctl_config cfg;
	char err[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/l1vmm-config-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->t = ctl__create();
	assert_int_equal(host_ctl__register(f->t), 0);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ctl_config__release(f->t, &f->cfg);
	ctl__destroy(f->t);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	host_ctl__set_log_level(LOG_INFO);
	free(f);
	return 0;
}

/* Create dir/rel with content, making its directories. */
static void put(struct fixture *f, const char *rel, const char *content)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	for (char *p = path + strlen(f->dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
}

static void mkdirs(struct fixture *f, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/x", f->dir, rel);
	put(f, rel, ""); /* makes the parents; then replace the file by a directory */
	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int load(struct fixture *f)
{
	return ctl_config__load(f->t, f->dir, &f->cfg, f->err, sizeof(f->err));
}

static void assert_loads(struct fixture *f)
{
	if (load(f) != 0)
		fail_msg("load failed: %s", f->err);
}

/* The load fails with an error that is "DIR/rel: " followed by what. */
static void assert_fails(struct fixture *f, const char *rel, const char *what)
{
	assert_int_equal(load(f), -1);
	char expect[600];
	snprintf(expect, sizeof(expect), "%s/%s: %s", f->dir, rel, what);
	if (strncmp(f->err, expect, strlen(expect)) != 0)
		fail_msg("error \"%s\", expected it to start with \"%s\"", f->err, expect);
	/* nothing of the directory's VMs stays in the tree */
	assert_int_equal(f->cfg.nr_vms, 0);
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, "host/nr_vms", &text), 0);
	assert_string_equal(text, "0\n");
	free(text);
}

static void good_vm(struct fixture *f, const char *name)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "vms/%s/mem", name);
	put(f, rel, "64M\n");
}

static void test_good_tree(void **state)
{
	struct fixture *f = *state;
	put(f, "log_level", "debug\n");
	put(f, "vms/web/mem", "128M\n");
	put(f, "vms/web/vcpus", "2");
	put(f, "vms/web/mode", "ept\n");
	put(f, "vms/web/kernel", "/boot/k.elf\n");
	put(f, "vms/web/cmdline", "console=ttyS0 quiet\n");
	put(f, "vms/web/domain", "front\n");
	put(f, "vms/db/mem", "2097152");
	assert_loads(f);
	assert_int_equal(f->cfg.nr_vms, 2);
	struct vm_ctl *db = f->cfg.vms[0], *web = f->cfg.vms[1];
	assert_string_equal(db->name, "db");
	assert_true(db->mem_bytes == 2 << 20);
	assert_int_equal(db->vcpus, 1);
	assert_int_equal(db->mode, CPU_MODE_AUTO);
	assert_string_equal(db->kernel, "");
	assert_string_equal(db->cmdline, "");
	assert_string_equal(web->name, "web");
	assert_true(web->mem_bytes == 128 << 20);
	assert_int_equal(web->vcpus, 2);
	assert_int_equal(web->mode, CPU_MODE_EPT);
	assert_string_equal(web->kernel, "/boot/k.elf");
	assert_string_equal(web->cmdline, "console=ttyS0 quiet");
	assert_string_equal(web->domain, "front");
	assert_int_equal(host_ctl__log_level(), LOG_DEBUG);
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, "vms/web/vcpus", &text), 0);
	assert_string_equal(text, "2\n");
	free(text);
	assert_int_equal(ctl__read(f->t, "host/nr_vms", &text), 0);
	assert_string_equal(text, "2\n");
	free(text);
}

static void test_empty_and_host_only(void **state)
{
	struct fixture *f = *state;
	assert_loads(f);
	assert_int_equal(f->cfg.nr_vms, 0);
	put(f, "log_level", "warn");
	mkdirs(f, "vms");
	assert_loads(f);
	assert_int_equal(host_ctl__log_level(), LOG_WARN);
}

/* A `cp -r` of a live tree: READMEs and readings are accepted and ignored. */
static void test_copy_of_live_tree(void **state)
{
	struct fixture *f = *state;
	put(f, "README", "/: one value per file\nhost/: directory\n");
	put(f, "log_level", "info\n");
	put(f, "host/README", "x\n");
	put(f, "host/mem_total", "25276502016\n");
	put(f, "host/mem_available", "1\n");
	put(f, "host/l1vmm_rss", "1\n");
	put(f, "host/nr_vms", "7\n");
	put(f, "host/pressure/README", "x\n");
	put(f, "host/pressure/some_avg10", "unavailable\n");
	put(f, "host/pressure/full_avg10", "0.00\n");
	put(f, "vms/README", "x\n");
	put(f, "vms/a/README", "x\n");
	put(f, "vms/a/mem", "268435456\n");
	put(f, "vms/a/vcpus", "1\n");
	put(f, "vms/a/mode", "auto\n");
	put(f, "vms/a/kernel", "\n");
	put(f, "vms/a/cmdline", "\n");
	put(f, "vms/a/domain", "\n");
	put(f, "vms/a/state", "running\n");
	put(f, "vms/a/mode_active", "ept\n");
	put(f, "vms/a/stats/README", "x\n");
	put(f, "vms/a/stats/run_time", "12.500\n");
	put(f, "vms/a/stats/mem_populated", "4096\n");
	put(f, "vms/a/stats/exits/README", "x\n");
	put(f, "vms/a/stats/exits/mmio", "123\n");
	put(f, "vms/a/stats/exits/io", "garbage is fine in a reading\n");
	assert_loads(f);
	assert_int_equal(f->cfg.nr_vms, 1);
	assert_true(f->cfg.vms[0]->mem_bytes == 256 << 20);
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, "host/nr_vms", &text), 0);
	assert_string_equal(text, "1\n");
	free(text);
}

static void test_unknown_file(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	put(f, "vms/a/memory", "64M\n");
	assert_fails(f, "vms/a/memory", "unknown file");
}

static void test_unknown_top_level(void **state)
{
	struct fixture *f = *state;
	put(f, "dedup/run", "1\n"); /* not registered (yet) */
	assert_fails(f, "dedup", "unknown directory");
}

static void test_unknown_host_file(void **state)
{
	struct fixture *f = *state;
	put(f, "host/swap", "1\n");
	assert_fails(f, "host/swap", "unknown file");
}

static void test_nested_junk(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	put(f, "vms/a/stats/junk/x", "1\n");
	assert_fails(f, "vms/a/stats/junk", "unknown directory");
}

static void test_file_as_directory(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	put(f, "vms/a/vcpus/x", "1\n");
	assert_fails(f, "vms/a/vcpus", "unknown directory");
}

static void test_directory_as_file(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	put(f, "vms/a/stats", "1\n");
	assert_fails(f, "vms/a/stats", "unknown file");
}

static void test_bad_values(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *file, *value, *what; } cases[] = {
		{ "vms/a/vcpus", "0\n", "invalid value \"0\": expected integer 1..255" },
		{ "vms/a/vcpus", "256", "invalid value \"256\": expected integer 1..255" },
		{ "vms/a/vcpus", "2\n\n", "invalid value \"2?\": expected integer 1..255" },
		{ "vms/a/vcpus", " 2", "invalid value \" 2\"" },
		{ "vms/a/mem", "1M", "invalid value \"1M\": expected size 2M..64G, a multiple of 4K" },
		{ "vms/a/mem", "", "invalid value \"\": expected size" },
		{ "vms/a/mode", "fast\n", "invalid value \"fast\": expected auto|ept|shadow" },
		{ "vms/a/domain", "a\tb", "invalid value \"a?b\": expected text of at most 63 bytes" },
		{ "log_level", "loud", "invalid value \"loud\": expected error|warn|info|debug" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		good_vm(f, "a");
		put(f, cases[i].file, cases[i].value);
		assert_fails(f, cases[i].file, cases[i].what);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", f->dir, cases[i].file);
		unlink(path);
	}
}

static void test_value_too_long(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	char *big = malloc(CTL_VALUE_MAX + 100);
	memset(big, 'x', CTL_VALUE_MAX + 99);
	big[CTL_VALUE_MAX + 99] = '\0';
	put(f, "vms/a/cmdline", big);
	free(big);
	assert_fails(f, "vms/a/cmdline", "value too long");
	big = malloc(L1_CMDLINE_MAX + 1);
	memset(big, 'x', L1_CMDLINE_MAX);
	big[L1_CMDLINE_MAX] = '\0';
	put(f, "vms/a/cmdline", big); /* one byte more than fits with the NUL */
	free(big);
	assert_fails(f, "vms/a/cmdline", "invalid value \"xxx");
}

static void test_missing_mem(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	put(f, "vms/b/vcpus", "2\n");
	assert_fails(f, "vms/b/mem", "missing: VM b needs it");
}

static void test_empty_vm_dir(void **state)
{
	struct fixture *f = *state;
	mkdirs(f, "vms/empty");
	assert_fails(f, "vms/empty/mem", "missing");
}

static void test_bad_vm_entries(void **state)
{
	struct fixture *f = *state;
	put(f, "vms/notadir", "x\n");
	assert_fails(f, "vms/notadir", "a VM must be a directory");
	unlink(strcat(strcpy(f->err, f->dir), "/vms/notadir"));
	put(f, "vms/.hidden/mem", "64M\n");
	assert_fails(f, "vms/.hidden", "bad VM name");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vms/.hidden/mem", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/vms/.hidden", f->dir);
	rmdir(path);
	put(f, "vms/0123456789abcdef0123456789abcdef/mem", "64M\n"); /* 32 bytes */
	assert_fails(f, "vms/0123456789abcdef0123456789abcdef", "bad VM name");
}

static void test_vms_not_a_directory(void **state)
{
	struct fixture *f = *state;
	put(f, "vms", "a\n");
	assert_fails(f, "vms", "not a directory");
}

static void test_not_regular(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vms/a/kernel", f->dir);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_fails(f, "vms/a/kernel", "not a regular file");
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_fails(f, "vms/a/kernel", "not a regular file");
}

static void test_unreadable(void **state)
{
	struct fixture *f = *state;
	good_vm(f, "a");
	put(f, "vms/a/vcpus", "1\n");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vms/a/vcpus", f->dir);
	assert_int_equal(chmod(path, 0), 0);
	/* root reads anything: look at the file as nobody */
	bool root = geteuid() == 0;
	if (root) {
		assert_int_equal(chmod(f->dir, 0755), 0);
		assert_int_equal(seteuid(65534), 0);
	}
	assert_int_equal(load(f), -1);
	if (root)
		assert_int_equal(seteuid(0), 0);
	char expect[PATH_MAX];
	snprintf(expect, sizeof(expect), "%s/vms/a/vcpus: cannot read: Permission denied", path[0] ? f->dir : "");
	assert_string_equal(f->err, expect);
	assert_int_equal(f->cfg.nr_vms, 0);
}

static void test_missing_dir(void **state)
{
	struct fixture *f = *state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/nope", f->dir);
	assert_int_equal(ctl_config__load(f->t, dir, &f->cfg, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "/nope: cannot read config directory"));
	put(f, "file", "x");
	snprintf(dir, sizeof(dir), "%s/file", f->dir);
	assert_int_equal(ctl_config__load(f->t, dir, &f->cfg, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "/file: the config is not a directory"));
}

static void test_vm_already_in_tree(void **state)
{
	struct fixture *f = *state;
	struct vm_ctl *a = vm_ctl__new("a");
	assert_int_equal(vm_ctl__register(f->t, a), 0);
	good_vm(f, "a");
	assert_int_equal(load(f), -1);
	assert_non_null(strstr(f->err, "vms/a: a VM of that name already exists"));
	vm_ctl__unregister(f->t, a);
	vm_ctl__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_good_tree),
		T(test_empty_and_host_only),
		T(test_copy_of_live_tree),
		T(test_unknown_file),
		T(test_unknown_top_level),
		T(test_unknown_host_file),
		T(test_nested_junk),
		T(test_file_as_directory),
		T(test_directory_as_file),
		T(test_bad_values),
		T(test_value_too_long),
		T(test_missing_mem),
		T(test_empty_vm_dir),
		T(test_bad_vm_entries),
		T(test_vms_not_a_directory),
		T(test_not_regular),
		T(test_unreadable),
		T(test_missing_dir),
		T(test_vm_already_in_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
