/* SPDX-License-Identifier: MIT */
/* The control tree's registry: every type at every boundary, access rules, READMEs, instances. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cmocka_all.h"
#include "l1vmm/ctl.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/vm.h"

/* ---- a test object with one entry of each type ---- */

struct thing {
	bool flag;
	int64_t count, big, small;
	uint64_t mem;
	unsigned color;
	char name[16];
	bool running;     /* for CTL_IDLE */
	bool refuse;      /* store() itself says EBUSY */
	int stores;       /* store() calls */
	int show_error;   /* show() fails with this */
};

enum { A_FLAG, A_COUNT, A_BIG, A_SMALL, A_MEM, A_COLOR, A_NAME, A_HITS, A_TEXT };

static int show_thing(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct thing *t = obj;
	if (t->show_error)
		return t->show_error;
	switch (e->arg) {
	case A_FLAG: return snprintf(buf, len, "%d", t->flag), 0;
	case A_COUNT: return snprintf(buf, len, "%lld", (long long)t->count), 0;
	case A_BIG: return snprintf(buf, len, "%lld", (long long)t->big), 0;
	case A_SMALL: return snprintf(buf, len, "%lld", (long long)t->small), 0;
	case A_MEM: return snprintf(buf, len, "%llu", (unsigned long long)t->mem), 0;
	case A_COLOR: return snprintf(buf, len, "%s", e->choices[t->color]), 0;
	case A_NAME: return snprintf(buf, len, "%s", t->name), 0;
	case A_HITS: return snprintf(buf, len, "42"), 0;
	default: return snprintf(buf, len, "some text"), 0;
	}
}

static int store_thing(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	struct thing *t = obj;
	if (t->refuse)
		return -EBUSY;
	t->stores++;
	switch (e->arg) {
	case A_FLAG: t->flag = v->b; break;
	case A_COUNT: t->count = v->i; break;
	case A_BIG: t->big = v->i; break;
	case A_SMALL: t->small = v->i; break;
	case A_MEM: t->mem = v->size; break;
	case A_COLOR: t->color = v->choice; break;
	case A_NAME: snprintf(t->name, sizeof(t->name), "%s", v->str); break;
	}
	return 0;
}

static bool thing_running(void *obj)
{
	return ((struct thing *)obj)->running;
}

static const char *const colors[] = { "red", "green", "blue", NULL };

#define RW(p, a) .path = p, .arg = a, .flags = CTL_WRITABLE, .show = show_thing, .store = store_thing
static const struct ctl_entry thing_entries[] = {
	{ RW("flag", A_FLAG), .type = CTL_BOOL, .doc = "a flag" },
	{ RW("count", A_COUNT), .type = CTL_INT, .min = -5, .max = 100, .doc = "a count" },
	{ RW("big", A_BIG), .type = CTL_INT, .min = INT64_MIN, .max = INT64_MAX, .doc = "any" },
	{ RW("small", A_SMALL), .type = CTL_INT, .min = 1, .max = 255, .doc = "1 to 255" },
	{ .path = "mem", .arg = A_MEM, .type = CTL_SIZE,
	  .flags = CTL_WRITABLE | CTL_IDLE | CTL_CONFIG | CTL_REQUIRED,
	  .size_min = 2 << 20, .size_max = 64ull << 30, .size_align = 4096,
	  .show = show_thing, .store = store_thing, .doc = "memory" },
	{ RW("color", A_COLOR), .type = CTL_ENUM, .choices = colors, .doc = "a color" },
	{ RW("name", A_NAME), .type = CTL_STRING, .max_len = 8, .doc = "a name" },
	{ .path = "stats/hits", .arg = A_HITS, .type = CTL_INT, .show = show_thing,
	  .doc = "hits" },
	{ .path = "stats/text", .arg = A_TEXT, .type = CTL_TEXT, .show = show_thing,
	  .doc = "a text" },
};
static const struct ctl_table thing_table = CTL_TABLE(thing_entries, thing_running);

struct fixture {
	struct ctl_tree *t;
	struct thing a;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->t = ctl__create();
	assert_non_null(f->t);
	assert_int_equal(ctl__register(f->t, "things/a", &thing_table, &f->a), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ctl__destroy(f->t);
	free(f);
	return 0;
}

static int wr(struct fixture *f, const char *path, const char *text)
{
	return ctl__write(f->t, path, text, strlen(text));
}

/* Read path and compare with expected (which includes the newline). */
static void assert_reads(struct fixture *f, const char *path, const char *expected)
{
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, path, &text), 0);
	assert_string_equal(text, expected);
	free(text);
}

static void assert_rejects(struct fixture *f, const char *path, const char *const *bad)
{
	for (; *bad; bad++) {
		int before = f->a.stores;
		if (wr(f, path, *bad) != -EINVAL)
			fail_msg("%s accepted \"%s\"", path, *bad);
		assert_int_equal(f->a.stores, before);
	}
}

/* ---- types ---- */

static void test_bool(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/flag", "1"), 0);
	assert_reads(f, "things/a/flag", "1\n");
	assert_int_equal(wr(f, "things/a/flag", "0\n"), 0);
	assert_reads(f, "things/a/flag", "0\n");
	static const char *const bad[] = { "", "\n", "2", "-1", "y", "n", "true", "01", " 1",
					   "1 ", "1\n\n", "\n1", "0x1", NULL };
	assert_rejects(f, "things/a/flag", bad);
}

static void test_int_boundaries(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/count", "-5"), 0);
	assert_int_equal(f->a.count, -5);
	assert_int_equal(wr(f, "things/a/count", "100\n"), 0);
	assert_int_equal(f->a.count, 100);
	assert_int_equal(wr(f, "things/a/count", "-0"), 0);
	assert_int_equal(f->a.count, 0);
	assert_int_equal(wr(f, "things/a/count", "0x10"), 0);
	assert_int_equal(f->a.count, 16);
	static const char *const bad[] = { "-6", "101", "", "-", "+1", " 1", "1 ", "1\t",
					   "010", "-010", "1.0", "1e2", "abc", "--1", "0x",
					   "18446744073709551616", "99999999999999999999999", NULL };
	assert_rejects(f, "things/a/count", bad);
	assert_int_equal(f->a.count, 16);

	assert_int_equal(wr(f, "things/a/small", "1"), 0);
	assert_int_equal(wr(f, "things/a/small", "255"), 0);
	static const char *const bad_small[] = { "0", "256", "-1", "-0x1", NULL };
	assert_rejects(f, "things/a/small", bad_small);
	assert_int_equal(f->a.small, 255);
}

static void test_int_extremes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/big", "9223372036854775807"), 0);
	assert_true(f->a.big == INT64_MAX);
	assert_int_equal(wr(f, "things/a/big", "-9223372036854775808"), 0);
	assert_true(f->a.big == INT64_MIN);
	assert_reads(f, "things/a/big", "-9223372036854775808\n");
	static const char *const bad[] = { "9223372036854775808", "-9223372036854775809",
					   "18446744073709551615", "-18446744073709551616", NULL };
	assert_rejects(f, "things/a/big", bad);
}

static void test_size(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/mem", "2M"), 0);
	assert_int_equal(f->a.mem, 2 << 20);
	assert_reads(f, "things/a/mem", "2097152\n");
	assert_int_equal(wr(f, "things/a/mem", "64G\n"), 0);
	assert_true(f->a.mem == 64ull << 30);
	assert_int_equal(wr(f, "things/a/mem", "2101248"), 0); /* 2M + 4K */
	assert_int_equal(wr(f, "things/a/mem", "65536K"), 0);
	assert_int_equal(f->a.mem, 64 << 20);
	static const char *const bad[] = {
		"2093056",     /* min - 4K */
		"2097151",     /* min - 1 */
		"2097153",     /* not a multiple of 4K */
		"68719480832", /* max + 4K */
		"65G", "1T", "", "M", "-2M", " 2M", "2M ", "2 M", "2X", "2M\n\n",
		"17179869184T",           /* overflows 64 bits */
		"99999999999999999999999", NULL
	};
	assert_rejects(f, "things/a/mem", bad);
	assert_int_equal(f->a.mem, 64 << 20);
}

static void test_enum(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/color", "blue\n"), 0);
	assert_reads(f, "things/a/color", "blue\n");
	assert_int_equal(wr(f, "things/a/color", "red"), 0);
	assert_int_equal(f->a.color, 0);
	static const char *const bad[] = { "", "Red", "red ", " red", "reds", "re", "0", "purple",
					   NULL };
	assert_rejects(f, "things/a/color", bad);
}

static void test_string(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/name", "12345678"), 0); /* exactly max_len */
	assert_reads(f, "things/a/name", "12345678\n");
	assert_int_equal(wr(f, "things/a/name", "a b\n"), 0);    /* inner space kept */
	assert_reads(f, "things/a/name", "a b\n");
	assert_int_equal(wr(f, "things/a/name", ""), 0);         /* empty is a value */
	assert_reads(f, "things/a/name", "\n");
	assert_int_equal(wr(f, "things/a/name", "\n"), 0);
	static const char *const bad[] = { "123456789", "a\tb", "a\nb", "ab\n\n", "\x1b[m",
					   "x\x7f", NULL };
	assert_rejects(f, "things/a/name", bad);
	/* an embedded NUL */
	assert_int_equal(ctl__write(f->t, "things/a/name", "ab\0cd", 5), -EINVAL);
	/* longer than any value */
	size_t n = CTL_VALUE_MAX + 10;
	char *huge = malloc(n);
	memset(huge, 'a', n);
	assert_int_equal(ctl__write(f->t, "things/a/name", huge, n), -EINVAL);
	free(huge);
}

static void test_parse_direct(void **state)
{
	(void)state;
	union ctl_value v;
	assert_int_equal(ctl__parse(&thing_entries[0], "1", &v), 0);
	assert_true(v.b);
	assert_int_equal(ctl__parse(&thing_entries[1], "101", &v), -EINVAL);
	assert_int_equal(ctl__parse(&thing_entries[8], "x", &v), -EINVAL); /* CTL_TEXT */
}

/* ---- access ---- */

static void test_access(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/stats/hits", "1"), -EACCES);
	assert_int_equal(wr(f, "things/a/stats/text", "1"), -EACCES);
	assert_int_equal(wr(f, "things/a/README", "1"), -EACCES);
	assert_int_equal(wr(f, "things/a/stats", "1"), -EISDIR);
	assert_int_equal(wr(f, "things/a/nope", "1"), -ENOENT);
	assert_int_equal(wr(f, "things/a/flag/x", "1"), -ENOENT);
	assert_int_equal(wr(f, "things//a/flag", "1"), -ENOENT);
	assert_int_equal(wr(f, "/things/a/flag", "1"), 0);
	assert_reads(f, "things/a/stats/hits", "42\n");
	assert_reads(f, "/things/a/stats/text", "some text\n");
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, "things/a", &text), -EISDIR);
	assert_int_equal(ctl__read(f->t, "things/a/flag/", &text), -ENOENT);
	assert_int_equal(ctl__read(f->t, "things/b", &text), -ENOENT);
	assert_int_equal(ctl__read(f->t, "things/a/README/x", &text), -ENOENT);
	f->a.show_error = -EIO;
	assert_int_equal(ctl__read(f->t, "things/a/flag", &text), -EIO);
	assert_null(text);
}

static void test_ebusy_leaves_value(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(wr(f, "things/a/mem", "4M"), 0);
	f->a.running = true;
	int before = f->a.stores;
	assert_int_equal(wr(f, "things/a/mem", "8M"), -EBUSY);
	assert_int_equal(wr(f, "things/a/mem", "bogus"), -EINVAL); /* a bad value says so */
	assert_int_equal(f->a.stores, before);
	assert_reads(f, "things/a/mem", "4194304\n");
	/* entries without CTL_IDLE stay writable while running */
	assert_int_equal(wr(f, "things/a/flag", "1"), 0);
	f->a.running = false;
	assert_int_equal(wr(f, "things/a/mem", "8M"), 0);
	/* store() may refuse by itself (it checks under its own lock) */
	f->a.refuse = true;
	assert_int_equal(wr(f, "things/a/mem", "16M"), -EBUSY);
	assert_reads(f, "things/a/mem", "8388608\n");
}

/* ---- stat, list, README ---- */

static void test_stat(void **state)
{
	struct fixture *f = *state;
	struct ctl_stat st;
	assert_int_equal(ctl__stat(f->t, "", &st), 0);
	assert_true(st.is_dir);
	assert_int_equal(ctl__stat(f->t, "things/a/count", &st), 0);
	assert_false(st.is_dir);
	assert_true(st.writable);
	assert_int_equal(st.size, 2); /* "0\n" */
	assert_int_equal(ctl__stat(f->t, "things/a/stats/hits", &st), 0);
	assert_false(st.writable);
	assert_int_equal(st.size, 3);
	assert_int_equal(ctl__stat(f->t, "things/a/README", &st), 0);
	assert_true(st.readme);
	assert_true(st.size > 100);
	assert_int_equal(ctl__stat(f->t, "things/x", &st), -ENOENT);
}

struct listing {
	char buf[512];
	int stop_after;
};

static int collect(void *arg, const char *name, bool is_dir)
{
	struct listing *l = arg;
	size_t n = strlen(l->buf);
	snprintf(l->buf + n, sizeof(l->buf) - n, "%s%s ", name, is_dir ? "/" : "");
	return --l->stop_after == 0;
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	struct listing l = { .stop_after = -1 };
	assert_int_equal(ctl__list(f->t, "things/a", collect, &l), 0);
	assert_string_equal(l.buf,
			    "README big color count flag mem name small stats/ ");
	l = (struct listing){ .stop_after = 2 };
	assert_int_equal(ctl__list(f->t, "/things/a/", collect, &l), 0);
	assert_string_equal(l.buf, "README big ");
	assert_int_equal(ctl__list(f->t, "things/a/flag", collect, &l), -ENOTDIR);
	assert_int_equal(ctl__list(f->t, "things/zz", collect, &l), -ENOENT);
}

static void test_readme(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, "things/a/README", &text), 0);
	assert_string_equal(
		text,
		"/things/a/: one value per file; read with cat, write with echo VALUE > FILE.\n"
		"big: any [integer -9223372036854775808..9223372036854775807; writable]\n"
		"color: a color [red|green|blue; writable]\n"
		"count: a count [integer -5..100; writable]\n"
		"flag: a flag [0 or 1; writable]\n"
		"mem: memory [size 2M..64G, a multiple of 4K; writable while not running; "
		"config, required]\n"
		"name: a name [text of at most 8 bytes; writable]\n"
		"small: 1 to 255 [integer 1..255; writable]\n"
		"stats/: directory, see stats/README\n");
	free(text);
	assert_int_equal(ctl__readme(f->t, "things/a/stats", &text), 0);
	assert_string_equal(
		text,
		"/things/a/stats/: one value per file; read with cat, write with echo VALUE > FILE.\n"
		"hits: hits [integer; read-only]\n"
		"text: a text [text; read-only]\n");
	free(text);
	assert_int_equal(ctl__read(f->t, "README", &text), 0);
	assert_string_equal(
		text,
		"/: one value per file; read with cat, write with echo VALUE > FILE.\n"
		"things/: directory, see things/README\n");
	free(text);
	assert_int_equal(ctl__readme(f->t, "things/a/flag", &text), -ENOTDIR);
}

/* ---- registering and removing ---- */

static void test_instances(void **state)
{
	struct fixture *f = *state;
	struct thing b = { .count = 7 };
	assert_int_equal(ctl__register(f->t, "things/b", &thing_table, &b), 0);
	assert_reads(f, "things/b/count", "7\n");
	assert_int_equal(wr(f, "things/b/count", "9"), 0);
	assert_int_equal(b.count, 9);
	assert_int_equal(f->a.count, 0);
	/* the same instance twice: nothing changes */
	assert_int_equal(ctl__register(f->t, "things/b", &thing_table, &f->a), -EEXIST);
	assert_reads(f, "things/b/count", "9\n");
	/* a file in the way of a directory */
	assert_int_equal(ctl__register(f->t, "things/a/flag", &thing_table, &b), -EEXIST);
	assert_int_equal(ctl__remove(f->t, "things/b"), 0);
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, "things/b/count", &text), -ENOENT);
	assert_int_equal(ctl__remove(f->t, "things/b"), -ENOENT);
	assert_int_equal(ctl__remove(f->t, "things/a/flag"), -ENOENT); /* not a directory */
	assert_int_equal(ctl__remove(f->t, ""), -ENOENT);              /* not the root */
	/* a failed register leaves no trace */
	struct listing l = { .stop_after = -1 };
	assert_int_equal(ctl__list(f->t, "things", collect, &l), 0);
	assert_string_equal(l.buf, "README a/ ");
}

static void test_bad_tables(void **state)
{
	struct fixture *f = *state;
	static const struct ctl_entry dup[] = {
		{ .path = "x", .type = CTL_BOOL, .doc = "x", .show = show_thing },
		{ .path = "x", .type = CTL_BOOL, .doc = "x", .show = show_thing },
	};
	static const struct ctl_entry file_then_dir[] = {
		{ .path = "x", .type = CTL_BOOL, .doc = "x", .show = show_thing },
		{ .path = "x/y", .type = CTL_BOOL, .doc = "x", .show = show_thing },
	};
	static const struct ctl_entry bad_name[] = {
		{ .path = "README", .type = CTL_BOOL, .doc = "x", .show = show_thing },
	};
	static const struct ctl_entry no_store[] = {
		{ .path = "x", .type = CTL_BOOL, .flags = CTL_WRITABLE, .doc = "x",
		  .show = show_thing },
	};
	static const struct ctl_entry bad_range[] = {
		{ .path = "x", .type = CTL_INT, .min = 5, .max = 4, .doc = "x", .show = show_thing },
	};
	static const struct ctl_entry no_choices[] = {
		{ .path = "x", .type = CTL_ENUM, .doc = "x", .show = show_thing },
	};
	static const struct ctl_entry writable_text[] = {
		{ .path = "x", .type = CTL_TEXT, .flags = CTL_WRITABLE, .doc = "x",
		  .show = show_thing, .store = store_thing },
	};
	static const struct ctl_entry dotdot[] = {
		{ .path = "a/../b", .type = CTL_BOOL, .doc = "x", .show = show_thing },
	};
	struct { struct ctl_table table; int rc; } cases[] = {
		{ CTL_TABLE(dup, NULL), -EEXIST },
		{ CTL_TABLE(file_then_dir, NULL), -EEXIST },
		{ CTL_TABLE(bad_name, NULL), -EINVAL },
		{ CTL_TABLE(no_store, NULL), -EINVAL },
		{ CTL_TABLE(bad_range, NULL), -EINVAL },
		{ CTL_TABLE(no_choices, NULL), -EINVAL },
		{ CTL_TABLE(writable_text, NULL), -EINVAL },
		{ CTL_TABLE(dotdot, NULL), -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ctl__register(f->t, "bad", &cases[i].table, NULL), cases[i].rc);
	assert_int_equal(ctl__register(f->t, "a b", &thing_table, NULL), -EINVAL);
	struct listing l = { .stop_after = -1 };
	assert_int_equal(ctl__list(f->t, "", collect, &l), 0);
	assert_string_equal(l.buf, "README things/ ");
}

/* Readers race instances coming and going (meaningful under ASan). */
struct racer {
	struct ctl_tree *t;
	volatile bool stop;
	unsigned reads;
};

static void *race_reader(void *arg)
{
	struct racer *r = arg;
	while (!r->stop) {
		char *text = NULL;
		if (ctl__read(r->t, "things/b/count", &text) == 0) {
			r->reads++;
			free(text);
		}
		ctl__write(r->t, "things/b/count", "3", 1);
		struct ctl_stat st;
		ctl__stat(r->t, "things/b/README", &st);
	}
	return NULL;
}

static void test_concurrent_instances(void **state)
{
	struct fixture *f = *state;
	struct racer r = { .t = f->t };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race_reader, &r), 0);
	for (int i = 0; i < 2000; i++) {
		struct thing *b = calloc(1, sizeof(*b));
		assert_int_equal(ctl__register(f->t, "things/b", &thing_table, b), 0);
		assert_int_equal(ctl__remove(f->t, "things/b"), 0);
		free(b); /* no callback can be running on b any more */
	}
	r.stop = true;
	pthread_join(th, NULL);
}

/* ---- the VM and host tables ---- */

static void test_vm_table(void **state)
{
	struct fixture *f = *state;
	struct vm_ctl *vmc = vm_ctl__new("vm0");
	assert_non_null(vmc);
	assert_null(vm_ctl__new("bad/name"));
	assert_null(vm_ctl__new(".hidden"));
	assert_null(vm_ctl__new("0123456789abcdef0123456789abcdef")); /* 32 bytes */
	assert_int_equal(vm_ctl__register(f->t, vmc), 0);
	assert_reads(f, "vms/vm0/mem", "0\n");
	assert_reads(f, "vms/vm0/vcpus", "1\n");
	assert_reads(f, "vms/vm0/mode", "auto\n");
	assert_reads(f, "vms/vm0/state", "created\n");
	assert_reads(f, "vms/vm0/mode_active", "none\n");
	assert_reads(f, "vms/vm0/stats/exits/mmio", "0\n");
	assert_reads(f, "vms/vm0/stats/run_time", "0.000\n");
	assert_int_equal(wr(f, "vms/vm0/mem", "64M"), 0);
	assert_int_equal(wr(f, "vms/vm0/mem", "1M"), -EINVAL);
	assert_int_equal(wr(f, "vms/vm0/mem", "65G"), -EINVAL);
	assert_int_equal(wr(f, "vms/vm0/vcpus", "256"), -EINVAL);
	assert_int_equal(wr(f, "vms/vm0/vcpus", "2"), 0);
	assert_int_equal(wr(f, "vms/vm0/mode", "ept"), 0);
	assert_int_equal(wr(f, "vms/vm0/mode", "EPT"), -EINVAL);
	assert_int_equal(wr(f, "vms/vm0/cmdline", "console=ttyS0 x=1\n"), 0);
	assert_int_equal(wr(f, "vms/vm0/domain", "web"), 0);
	assert_int_equal(wr(f, "vms/vm0/state", "running"), -EACCES);
	assert_int_equal(wr(f, "vms/vm0/stats/exits/io", "0"), -EACCES);

	struct vm_config cfg = { 0 };
	vm_ctl__freeze(vmc, &cfg);
	assert_string_equal(cfg.name, "vm0");
	assert_true(cfg.mem_bytes == 64 << 20);
	assert_int_equal(cfg.vcpus, 2);
	assert_int_equal(cfg.mode, CPU_MODE_EPT);
	assert_string_equal(cfg.kernel_name, "built-in");
	assert_string_equal(cfg.cmdline, "console=ttyS0 x=1");
	assert_int_equal(wr(f, "vms/vm0/mem", "128M"), -EBUSY); /* being created */

	/* a VM as vm__create() leaves it, without KVM */
	struct vm vm = { .mode = CPU_MODE_EPT, .nr_vcpus = 2 };
	vm.ram = vm.phys = &vm.mem;
	struct vcpu vcpus[2] = { 0 };
	vm.vcpus = vcpus;
	pthread_mutex_init(&vm.lock, NULL);
	vcpus[0].exits[VM_EXIT_MMIO] = 5;
	vcpus[1].exits[VM_EXIT_MMIO] = 7;
	vcpus[1].exits[VM_EXIT_UNKNOWN] = 1;
	size_t size = 64 * 4096;
	uint8_t *ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ram != MAP_FAILED);
	memset(ram, 1, 3 * 4096);
	memset(ram + 32 * 4096, 1, 4096);
	vm.mem.nr_regions = 2;
	vm.mem.region[0] = (struct ept_region){ .gpa = 0, .size = 32 * 4096, .hva = ram };
	vm.mem.region[1] = (struct ept_region){ .gpa = 1ull << 32, .size = 32 * 4096,
						.hva = ram + 32 * 4096 };
	vm_ctl__attach(vmc, &vm);
	assert_reads(f, "vms/vm0/state", "created\n");
	assert_reads(f, "vms/vm0/mode_active", "ept\n");
	assert_reads(f, "vms/vm0/stats/exits/mmio", "12\n");
	assert_reads(f, "vms/vm0/stats/exits/unknown", "1\n");
	assert_reads(f, "vms/vm0/stats/mem_populated", "16384\n");
	vm.nr_running = 2;
	vm.start_time = vm__now() - 1.5;
	assert_reads(f, "vms/vm0/state", "running\n");
	char *text;
	assert_int_equal(ctl__read(f->t, "vms/vm0/stats/run_time", &text), 0);
	assert_true(strtod(text, NULL) >= 1.5 && strtod(text, NULL) < 60);
	free(text);
	assert_int_equal(wr(f, "vms/vm0/mem", "128M"), -EBUSY);
	assert_int_equal(wr(f, "vms/vm0/vcpus", "4"), -EBUSY);
	assert_reads(f, "vms/vm0/mem", "67108864\n");
	/* ended: the config may change again (for a next start) */
	vm.end = VM_END_TIMEOUT;
	vm.end_time = vm.start_time + 2.25;
	vm.nr_running = 0;
	assert_reads(f, "vms/vm0/state", "timed-out\n");
	assert_reads(f, "vms/vm0/stats/run_time", "2.250\n");
	vm.end = VM_END_CRASH;
	assert_reads(f, "vms/vm0/state", "crashed\n");
	vm.end = VM_END_EXIT;
	assert_reads(f, "vms/vm0/state", "exited\n");
	vm.end = VM_END_SIGNAL;
	assert_reads(f, "vms/vm0/state", "stopped\n");
	assert_int_equal(wr(f, "vms/vm0/vcpus", "4"), 0);
	vm_ctl__detach(vmc);
	assert_reads(f, "vms/vm0/mode_active", "none\n");
	assert_int_equal(wr(f, "vms/vm0/mem", "128M"), 0);
	vm_ctl__unregister(f->t, vmc);
	assert_int_equal(wr(f, "vms/vm0/mem", "128M"), -ENOENT);
	vm_ctl__free(vmc);
	munmap(ram, size);
	pthread_mutex_destroy(&vm.lock);
}

static void test_host_table(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(host_ctl__register(f->t), 0);
	assert_int_equal(host_ctl__register(f->t), -EEXIST);
	char *text = NULL;
	assert_int_equal(ctl__read(f->t, "host/mem_total", &text), 0);
	assert_true(strtoull(text, NULL, 10) > (1ull << 20));
	free(text);
	assert_int_equal(ctl__read(f->t, "host/mem_available", &text), 0);
	assert_true(strtoull(text, NULL, 10) > 0);
	free(text);
	assert_int_equal(ctl__read(f->t, "host/l1vmm_rss", &text), 0);
	assert_true(strtoull(text, NULL, 10) > 4096);
	free(text);
	assert_int_equal(ctl__read(f->t, "host/pressure/some_avg10", &text), 0);
	assert_true(strcmp(text, "unavailable\n") == 0 || strchr(text, '.'));
	free(text);
	assert_reads(f, "host/nr_vms", "0\n");
	struct vm_ctl *a = vm_ctl__new("a"), *b = vm_ctl__new("b");
	assert_int_equal(vm_ctl__register(f->t, a), 0);
	assert_int_equal(vm_ctl__register(f->t, b), 0);
	assert_int_equal(vm_ctl__register(f->t, a), -EEXIST);
	assert_reads(f, "host/nr_vms", "2\n");
	vm_ctl__unregister(f->t, a);
	assert_reads(f, "host/nr_vms", "1\n");
	vm_ctl__unregister(f->t, b);
	assert_reads(f, "host/nr_vms", "0\n");
	vm_ctl__free(a);
	vm_ctl__free(b);
	assert_int_equal(wr(f, "host/mem_total", "1"), -EACCES);
	assert_reads(f, "log_level", "info\n");
	assert_int_equal(wr(f, "log_level", "debug\n"), 0);
	assert_int_equal(host_ctl__log_level(), LOG_DEBUG);
	assert_int_equal(wr(f, "log_level", "verbose"), -EINVAL);
	assert_reads(f, "log_level", "debug\n");
	host_ctl__set_log_level(LOG_INFO);
	struct listing l = { .stop_after = -1 };
	assert_int_equal(ctl__list(f->t, "", collect, &l), 0);
	assert_string_equal(l.buf, "README host/ log_level things/ vms/ ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_bool),
		T(test_int_boundaries),
		T(test_int_extremes),
		T(test_size),
		T(test_enum),
		T(test_string),
		T(test_parse_direct),
		T(test_access),
		T(test_ebusy_leaves_value),
		T(test_stat),
		T(test_list),
		T(test_readme),
		T(test_instances),
		T(test_bad_tables),
		T(test_concurrent_instances),
		T(test_vm_table),
		T(test_host_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
