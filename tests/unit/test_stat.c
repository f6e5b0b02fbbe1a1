/* SPDX-License-Identifier: MIT */
/*
 * `l1vmm stat`: exact text and JSON for small trees; the command line; and,
 * where /dev/fuse works, a live FUSE tree end to end (read, write, EINVAL,
 * EBUSY, EACCES, README, VMs coming and going, `cp -r` read back as a config
 * directory, unmount).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cmocka_all.h"
#include "tree_files.h"
#include "l1vmm/ctl.h"
#include "l1vmm/vm.h"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/l1vmm-stat-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
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
	char mnt[128];
	snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
	umount2(mnt, MNT_DETACH); /* a failed FUSE test must not leave its mount */
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

#define PUT(f, rel, s) tree_files__put((f)->dir, rel, s, sizeof(s) - 1)

/* stat__print into a string. */
static char *print(const char *dir, bool json, int expect_rc)
{
	char *out = NULL, err[256] = "";
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	int rc = stat__print(dir, json, fp, err, sizeof(err));
	fclose(fp);
	if (rc != expect_rc)
		fail_msg("stat__print: %d (%s)", rc, err);
	return out;
}

static void small_tree(struct fixture *f)
{
	PUT(f, "README", "ignored\n");
	PUT(f, "log_level", "info\n");
	PUT(f, "host/mem_total", "25276502016\n");
	PUT(f, "host/pressure/some_avg10", "0.25\n");
	PUT(f, "vms/a/mem", "268435456\n");
	PUT(f, "vms/a/cmdline", "console=ttyS0 \"quoted\" back\\slash\n");
	PUT(f, "vms/a/stats/exits/io", "0\n");
	PUT(f, "vms/a/stats/run_time", "1.500\n");
	PUT(f, "vms/a/domain", "\n");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vms/b", f->dir);
	mkdir(path, 0755); /* an empty directory */
}

static void test_text(void **state)
{
	struct fixture *f = *state;
	small_tree(f);
	char *out = print(f->dir, false, 0);
	assert_string_equal(out,
			    "host/mem_total            25276502016\n"
			    "host/pressure/some_avg10  0.25\n"
			    "log_level                 info\n"
			    "vms/a/cmdline             console=ttyS0 \"quoted\" back\\slash\n"
			    "vms/a/domain              \n"
			    "vms/a/mem                 268435456\n"
			    "vms/a/stats/exits/io      0\n"
			    "vms/a/stats/run_time      1.500\n");
	free(out);
	/* a subtree */
	char sub[PATH_MAX];
	snprintf(sub, sizeof(sub), "%s/vms/a/stats", f->dir);
	out = print(sub, false, 0);
	assert_string_equal(out, "exits/io  0\n"
				 "run_time  1.500\n");
	free(out);
}

static void test_json(void **state)
{
	struct fixture *f = *state;
	small_tree(f);
	char *out = print(f->dir, true, 0);
	assert_string_equal(out,
			    "{\n"
			    "  \"host\": {\n"
			    "    \"mem_total\": 25276502016,\n"
			    "    \"pressure\": {\n"
			    "      \"some_avg10\": \"0.25\"\n"
			    "    }\n"
			    "  },\n"
			    "  \"log_level\": \"info\",\n"
			    "  \"vms\": {\n"
			    "    \"a\": {\n"
			    "      \"cmdline\": \"console=ttyS0 \\\"quoted\\\" back\\\\slash\",\n"
			    "      \"domain\": \"\",\n"
			    "      \"mem\": 268435456,\n"
			    "      \"stats\": {\n"
			    "        \"exits\": {\n"
			    "          \"io\": 0\n"
			    "        },\n"
			    "        \"run_time\": \"1.500\"\n"
			    "      }\n"
			    "    },\n"
			    "    \"b\": {}\n"
			    "  }\n"
			    "}\n");
	free(out);
}

static void test_json_values(void **state)
{
	struct fixture *f = *state;
	PUT(f, "a_neg", "-3\n");
	PUT(f, "b_lead0", "007\n");
	PUT(f, "c_zero", "0");
	PUT(f, "d_minus", "-\n");
	PUT(f, "e_ctrl", "x\ty\001\n");
	PUT(f, "f_utf8", "caf\xc3\xa9\n");
	PUT(f, "g_bad", "a\xff\xc3(\xe2\x82\n");
	PUT(f, "h_two_lines", "1\n2\n");
	PUT(f, "i_huge", "123456789012345678901234567890\n");
	char *out = print(f->dir, true, 0);
	assert_string_equal(out,
			    "{\n"
			    "  \"a_neg\": -3,\n"
			    "  \"b_lead0\": \"007\",\n"
			    "  \"c_zero\": 0,\n"
			    "  \"d_minus\": \"-\",\n"
			    "  \"e_ctrl\": \"x\\ty\\u0001\",\n"
			    "  \"f_utf8\": \"caf\xc3\xa9\",\n"
			    "  \"g_bad\": \"a\\ufffd\\ufffd(\\ufffd\\ufffd\",\n"
			    "  \"h_two_lines\": \"1\\n2\",\n"
			    "  \"i_huge\": 123456789012345678901234567890\n"
			    "}\n");
	free(out);
	out = print(f->dir, false, 0);
	assert_non_null(strstr(out, "e_ctrl       x\\x09y\\x01\n"));
	assert_non_null(strstr(out, "h_two_lines  1\\x0a2\n"));
	free(out);
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	char *out = print(f->dir, true, 0);
	assert_string_equal(out, "{}\n");
	free(out);
	out = print(f->dir, false, 0);
	assert_string_equal(out, "");
	free(out);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	char missing[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/nope", f->dir);
	char *out = print(missing, false, -1);
	free(out);
	PUT(f, "file", "1\n");
	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%s/file", f->dir);
	char *none[] = { NULL };
	char json[] = "--json", bad[] = "--xml", help[] = "--help";
	char *no_dir[] = { json };
	char *two[] = { f->dir, f->dir };
	char *badopt[] = { f->dir, bad };
	char *gone[] = { missing };
	char *notdir[] = { file };
	char *helpme[] = { help };
	assert_int_equal(stat__main(0, none), 2);
	assert_int_equal(stat__main(1, no_dir), 2);
	assert_int_equal(stat__main(2, two), 2);
	assert_int_equal(stat__main(2, badopt), 2);
	assert_int_equal(stat__main(1, gone), 2);
	assert_int_equal(stat__main(1, notdir), 2);
	assert_int_equal(stat__main(1, helpme), 0);
	char *ok[] = { json, f->dir };
	assert_int_equal(stat__main(2, ok), 0);
}

/* ---- a live tree over FUSE ---- */

static int fd_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int rc = n < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void test_fuse_live_tree(void **state)
{
	struct fixture *f = *state;
	if (access("/dev/fuse", R_OK | W_OK) != 0) {
		print_message("SKIPPED: /dev/fuse is not usable here; the FUSE mount is untested\n");
		skip();
	}
	char mnt[256], copy[256], p[PATH_MAX], err[256];
	snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
	snprintf(copy, sizeof(copy), "%s/copy", f->dir);
	assert_int_equal(mkdir(mnt, 0755), 0);

	struct ctl_tree *t = ctl__create();
	assert_int_equal(host_ctl__register(t), 0);
	struct vm_ctl *a = vm_ctl__new("a");
	a->mem_bytes = 64 << 20;
	assert_int_equal(vm_ctl__register(t, a), 0);

	assert_null(ctl_fuse__mount(t, copy, NULL, err, sizeof(err))); /* no such directory */
	assert_non_null(strstr(err, "No such file or directory"));
	struct ctl_mount *m = ctl_fuse__mount(t, mnt, NULL, err, sizeof(err));
	if (!m) {
		print_message("SKIPPED: cannot mount FUSE here (%s)\n", err);
		ctl__destroy(t);
		skip();
	}
	struct statfs sfs;
	assert_int_equal(statfs(mnt, &sfs), 0);
	assert_true(sfs.f_type == 0x65735546); /* FUSE_SUPER_MAGIC */

	snprintf(p, sizeof(p), "%s/vms/a/mem", mnt);
	assert_string_equal(slurp(p), "67108864\n");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0644);
	assert_int_equal(st.st_size, 9);
	assert_int_equal(fd_write(p, "128M\n"), 0);            /* echo 128M > mem */
	assert_string_equal(slurp(p), "134217728\n");
	assert_int_equal(fd_write(p, "12345"), -EINVAL);        /* not a multiple of 4K */
	assert_int_equal(fd_write(p, "lots"), -EINVAL);
	assert_string_equal(slurp(p), "134217728\n");
	struct vm_config cfg;
	vm_ctl__freeze(a, &cfg);
	assert_int_equal(fd_write(p, "256M"), -EBUSY);
	vm_ctl__detach(a);
	assert_string_equal(slurp(p), "134217728\n");

	snprintf(p, sizeof(p), "%s/vms/a/state", mnt);
	assert_string_equal(slurp(p), "created\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0444);
	assert_int_equal(fd_write(p, "running"), -EACCES);
	snprintf(p, sizeof(p), "%s/vms/a", mnt);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0555);
	snprintf(p, sizeof(p), "%s/vms/a/README", mnt);
	assert_non_null(strstr(slurp(p), "\nmem: guest RAM"));
	assert_int_equal(fd_write(p, "x"), -EACCES);
	snprintf(p, sizeof(p), "%s/vms/a/nope", mnt);
	assert_int_equal(fd_write(p, "x"), -ENOENT);
	snprintf(p, sizeof(p), "%s/log_level", mnt);
	assert_int_equal(fd_write(p, "warn\n"), 0);
	assert_int_equal(host_ctl__log_level(), LOG_WARN);

	/* VMs come and go while mounted */
	struct vm_ctl *b = vm_ctl__new("b");
	b->mem_bytes = 2 << 20;
	assert_int_equal(vm_ctl__register(t, b), 0);
	snprintf(p, sizeof(p), "%s/vms/b/mem", mnt);
	assert_string_equal(slurp(p), "2097152\n");
	snprintf(p, sizeof(p), "%s/host/nr_vms", mnt);
	assert_string_equal(slurp(p), "2\n");

	/* stat over the live tree */
	char *out = print(mnt, false, 0);
	/* aligned: the value after the longest path's column, whatever it is */
	const char *line = strstr(out, "\nvms/b/mem ");
	size_t pad = line ? strspn(line + 10, " ") : 0;
	if (!line || pad < 2 || strncmp(line + 10 + pad, "2097152\n", 8))
		fail_msg("stat of the live tree:\n%s", out);
	free(out);
	out = print(mnt, true, 0);
	assert_non_null(strstr(out, "\"mem\": 134217728,"));
	free(out);

	/* cp -r of the live tree is a config directory for the same host */
	snprintf(p, sizeof(p), "cp -r %s %s", mnt, copy);
	assert_int_equal(system(p), 0);
	vm_ctl__unregister(t, b);
	vm_ctl__free(b);
	snprintf(p, sizeof(p), "%s/vms/b", mnt);
	assert_int_equal(access(p, F_OK), -1);

	ctl_fuse__unmount(m);
	assert_int_equal(statfs(mnt, &sfs), 0);
	assert_true(sfs.f_type != 0x65735546);
	vm_ctl__unregister(t, a);
	vm_ctl__free(a);
	ctl__destroy(t);

	host_ctl__set_log_level(LOG_INFO);
	struct ctl_tree *t2 = ctl__create();
	assert_int_equal(host_ctl__register(t2), 0);
	struct ctl_config cc;
	if (ctl_config__load(t2, copy, &cc, err, sizeof(err)) != 0)
		fail_msg("the copy does not load: %s", err);
	assert_int_equal(cc.nr_vms, 2);
	assert_string_equal(cc.vms[0]->name, "a");
	assert_true(cc.vms[0]->mem_bytes == 128 << 20);
	assert_true(cc.vms[1]->mem_bytes == 2 << 20);
	assert_int_equal(host_ctl__log_level(), LOG_WARN);
	ctl_config__release(t2, &cc);
	ctl__destroy(t2);
	host_ctl__set_log_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_text),
		T(test_json),
		T(test_json_values),
		T(test_empty),
		T(test_errors),
		T(test_fuse_live_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
