/* Unit tests: `l1vmm run` options and the strict value parsers. */
#include "cmocka_all.h"

#include <stdio.h>
#include <string.h>

#include "l1vmm/options.h"
#include "l1vmm/parse.h"


/* argv as main() gets it: string literals, hence the cast from const */
#define RUN(o, err, ...) options__parse_run( \
	(int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
	(char *const *)(const char *[]){ __VA_ARGS__ }, o, err, 256)

/* The value of setting key in set[0, nr), or NULL. */
static const char *setting(const struct opt_setting *set, unsigned nr, const char *key)
{
	for (unsigned i = 0; i < nr; i++)
		if (strcmp(set[i].key, key) == 0)
			return set[i].value;
	return NULL;
}

static void defaults(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256] = "";
	assert_int_equal(options__parse_run(0, NULL, &o, err, sizeof(err)), OPT_OK);
	assert_int_equal(o.nr_vms, 1);
	assert_false(o.multi);
	assert_string_equal(o.vm[0].name, "vm0");
	assert_int_equal(o.vm[0].nr, 0);
	assert_int_equal(o.nr_defaults, 0);
	assert_true(o.timeout == 0);
	assert_null(o.sysfs_dir);
	assert_null(o.config_dir);
	assert_false(o.no_sandbox); /* the sandbox is on unless asked */
	assert_null(o.user);
	options__free(&o);
}

static void sandbox_and_user(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256] = "";
	assert_int_equal(RUN(&o, err, "--sandbox=off", "--user", "l1"), OPT_OK);
	assert_true(o.no_sandbox);
	assert_string_equal(o.user, "l1");
	options__free(&o);
	assert_int_equal(RUN(&o, err, "--sandbox", "on"), OPT_OK);
	assert_false(o.no_sandbox);
	options__free(&o);
	assert_int_equal(RUN(&o, err, "--sandbox", "no"), OPT_ERROR);
	assert_non_null(strstr(err, "--sandbox: 'no' is neither on nor off"));
	options__free(&o);
}

static void full_command_line(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256] = "";
	assert_int_equal(RUN(&o, err, "--mem", "1G", "--vcpus=2", "--mode", "ept", "--timeout",
			     "0.5", "--sysfs", "/mnt/l1", "k.elf", "--", "workload=memtouch",
			     "size=128M", "--mem"), OPT_OK);
	assert_int_equal(o.nr_vms, 1);
	assert_false(o.multi);
	assert_string_equal(setting(o.defaults, o.nr_defaults, "mem"), "1G");
	assert_string_equal(setting(o.defaults, o.nr_defaults, "vcpus"), "2");
	assert_string_equal(setting(o.defaults, o.nr_defaults, "mode"), "ept");
	assert_string_equal(o.defaults[0].origin, "--mem");
	assert_true(o.timeout == 0.5);
	assert_string_equal(o.sysfs_dir, "/mnt/l1");
	assert_null(o.sysfs_group);
	assert_string_equal(setting(o.vm[0].set, o.vm[0].nr, "kernel"), "k.elf");
	/* everything after -- is the guest's, even what looks like an option */
	assert_string_equal(setting(o.vm[0].set, o.vm[0].nr, "cmdline"),
			    "workload=memtouch size=128M --mem");
	options__free(&o);
}

static void errors_say_what(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256];
	static const struct { const char *a, *b, *needle; } cases[] = {
		{ "--timeout", "0", "positive" },
		{ "--timeout", "-1", "positive" },
		{ "--timeout", "1s", "positive" },
		{ "--bogus", "1", "unknown option '--bogus'" },
		{ "--memory", "1G", "unknown option '--memory'" },
		{ "a.elf", "b.elf", "more than one kernel" },
		{ "--sysfs-group", "kvm", "--sysfs-group needs --sysfs DIR" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(RUN(&o, err, cases[i].a, cases[i].b), OPT_ERROR);
		options__free(&o);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
		assert_null(strchr(err, '\n'));
	}
	assert_int_equal(RUN(&o, err, "--mem"), OPT_ERROR);
	options__free(&o);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(RUN(&o, err, "--help"), OPT_HELP);
	options__free(&o);
	assert_int_equal(RUN(&o, err, "--config", "d", "--mem", "1G"), OPT_ERROR);
	options__free(&o);
	assert_non_null(strstr(err, "cannot be combined"));
	assert_int_equal(RUN(&o, err, "--sysfs", "/mnt/l1", "--sysfs-group=kvm"), OPT_OK);
	assert_string_equal(o.sysfs_group, "kvm");
	options__free(&o);
	assert_int_equal(RUN(&o, err, "--config", "d", "--timeout", "3"), OPT_OK);
	assert_int_equal(o.nr_vms, 0);
	assert_true(o.multi);
	assert_string_equal(o.config_dir, "d");
	options__free(&o);
}

static void cmdline_limit(void **state)
{
	(void)state;
	static struct run_options o;
	static char big[L1_CMDLINE_MAX];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0'; /* 4095 bytes: exactly the limit */
	char err[256];
	assert_int_equal(RUN(&o, err, "--", big), OPT_OK);
	assert_int_equal(strlen(setting(o.vm[0].set, o.vm[0].nr, "cmdline")), L1_CMDLINE_MAX - 1);
	options__free(&o);
	assert_int_equal(RUN(&o, err, "--", big, "b"), OPT_ERROR);
	options__free(&o);
	big[sizeof(big) - 2] = '\0';
	assert_int_equal(RUN(&o, err, "--", big, "b"), OPT_ERROR); /* 4094 + space + b */
	options__free(&o);
	big[sizeof(big) - 3] = '\0';
	assert_int_equal(RUN(&o, err, "--", big, "b"), OPT_OK);
	options__free(&o);
}

static void several_vms(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256] = "";
	assert_int_equal(RUN(&o, err, "--vcpus", "2", "--timeout", "30",
			     "--vm", "name=a,mem=64M",
			     "--vm", "name=b,mem=128M,vcpus=1,mode=ept,kernel=/k.elf,"
				     "cmdline=\"workload=memtouch size=32M, seed=3\",domain=t1",
			     "--vm=name=c,mem=32M,cmdline=workload=crash"), OPT_OK);
	assert_true(o.multi);
	assert_int_equal(o.nr_vms, 3);
	assert_string_equal(o.vm[0].name, "a");
	assert_string_equal(setting(o.defaults, o.nr_defaults, "vcpus"), "2");
	assert_string_equal(setting(o.vm[0].set, o.vm[0].nr, "mem"), "64M");
	assert_null(o.vm[0].set[0].origin); /* from --vm: messages name the VM */
	assert_string_equal(setting(o.vm[1].set, o.vm[1].nr, "vcpus"), "1");
	assert_string_equal(setting(o.vm[1].set, o.vm[1].nr, "kernel"), "/k.elf");
	assert_string_equal(setting(o.vm[1].set, o.vm[1].nr, "cmdline"),
			    "workload=memtouch size=32M, seed=3");
	assert_string_equal(setting(o.vm[1].set, o.vm[1].nr, "domain"), "t1");
	assert_string_equal(setting(o.vm[2].set, o.vm[2].nr, "cmdline"), "workload=crash");
	assert_true(o.timeout == 30);
	options__free(&o);
}

static void vm_spec_errors(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256];
	static const struct { const char *spec, *needle; } cases[] = {
		{ "mem=64M", "has no name=" },
		{ "name=a", "has no mem=" },
		{ "name=a,mem=64M,Color=red", "unknown VM setting 'Color'" },
		{ "name=a,mem=64M,cmdline=\"x", "unterminated quote" },
		{ "name=a,mem=64M,cmdline=\"x\"y", "expected ','" },
		{ "name=a,,mem=64M", "expected key=value" },
		{ "name=a,mem", "expected key=value" },
		{ "name=,mem=64M", "name must be" },
		{ "name=a,mem=1,mem=2,mem=3,mem=4,mem=5,mem=6,mem=7,mem=8,mem=9,mem=10,mem=11,"
		  "mem=12,mem=13,mem=14,mem=15,mem=16,mem=17", "too many" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(RUN(&o, err, "--vm", cases[i].spec), OPT_ERROR);
		options__free(&o);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
	}
	assert_int_equal(RUN(&o, err, "--vm", "name=a,mem=64M", "--vm", "name=a,mem=32M"),
			 OPT_ERROR);
	options__free(&o);
	assert_non_null(strstr(err, "two VMs are named 'a'"));
	assert_int_equal(RUN(&o, err, "--vm", "name=a,mem=64M", "k.elf"), OPT_ERROR);
	options__free(&o);
	assert_non_null(strstr(err, "single-VM form"));
	assert_int_equal(RUN(&o, err, "--vm", "name=a,mem=64M", "--", "x"), OPT_ERROR);
	options__free(&o);
	assert_int_equal(RUN(&o, err, "--vm", "name=a,mem=64M", "--mem", "1G"), OPT_ERROR);
	options__free(&o);
	assert_non_null(strstr(err, "before the first --vm"));
	char many[OPT_MAX_VMS + 1][32];
	char *argv[2 * (OPT_MAX_VMS + 1)];
	for (unsigned i = 0; i <= OPT_MAX_VMS; i++) {
		snprintf(many[i], sizeof(many[i]), "name=v%u,mem=4M", i);
		argv[2 * i] = (char *)"--vm";
		argv[2 * i + 1] = many[i];
	}
	assert_int_equal(options__parse_run(2 * OPT_MAX_VMS, argv, &o, err, sizeof(err)), OPT_OK);
	options__free(&o);
	assert_int_equal(options__parse_run(2 * OPT_MAX_VMS + 2, argv, &o, err, sizeof(err)),
			 OPT_ERROR);
	options__free(&o);
	assert_non_null(strstr(err, "more than"));
}

static void size_parser(void **state)
{
	(void)state;
	uint64_t v;
	assert_true(parse__size("4096", &v) && v == 4096);
	assert_true(parse__size("4K", &v) && v == 4096);
	assert_true(parse__size("256M", &v) && v == 256ull << 20);
	assert_true(parse__size("2GiB", &v) && v == 2ull << 30);
	assert_true(parse__size("1T", &v) && v == 1ull << 40);
	assert_true(parse__size("16777215T", &v) && v == 16777215ull << 40);
	assert_false(parse__size("16777216T", &v)); /* 2^64: overflow */
	assert_false(parse__size("99999999999999999999", &v));
	assert_false(parse__size("", &v));
	assert_false(parse__size("M", &v));
	assert_false(parse__size(" 1M", &v));
	assert_false(parse__size("1 M", &v));
	assert_false(parse__size("1m", &v));
	assert_false(parse__size("-1", &v));
	assert_false(parse__size("1.5G", &v));
}

static void number_parsers(void **state)
{
	(void)state;
	uint64_t v;
	double d;
	assert_true(parse__u64("0", &v) && v == 0);
	assert_true(parse__u64("0x10", &v) && v == 16);
	assert_true(parse__u64("010", &v) && v == 10); /* not octal */
	assert_false(parse__u64("0x", &v));
	assert_false(parse__u64("0x-1", &v));
	assert_true(parse__u64("18446744073709551615", &v) && v == UINT64_MAX);
	assert_false(parse__u64("18446744073709551616", &v));
	assert_false(parse__u64("", &v));
	assert_false(parse__u64("-1", &v));
	assert_false(parse__u64("1x", &v));
	assert_true(parse__seconds("120", &d) && d == 120);
	assert_true(parse__seconds(".25", &d) && d == 0.25);
	assert_false(parse__seconds("nan", &d));
	assert_false(parse__seconds("inf", &d));
	assert_false(parse__seconds("1e8", &d));
	assert_false(parse__seconds("", &d));
}

static void modules_and_isa_debug_exit(void **state)
{
	(void)state;
	static struct run_options o;
	char err[256] = "";
	assert_int_equal(RUN(&o, err, "--module", "env.txt,a=1 b", "--isa-debug-exit",
			     "--module=data.bin", "k.elf", "--", "pass=16"), OPT_OK);
	assert_string_equal(setting(o.defaults, o.nr_defaults, "modules"), "env.txt,a=1 b;data.bin");
	assert_string_equal(setting(o.defaults, o.nr_defaults, "isa_debug_exit"), "1");
	assert_string_equal(setting(o.vm[0].set, o.vm[0].nr, "kernel"), "k.elf");
	options__free(&o);

	/* --vm: module= may repeat and joins the same way */
	assert_int_equal(RUN(&o, err, "--vm", "name=a,mem=64M,module=\"e,x=1\",module=f,isa_debug_exit=1"),
			 OPT_OK);
	assert_string_equal(setting(o.vm[0].set, o.vm[0].nr, "modules"), "e,x=1;f");
	assert_string_equal(setting(o.vm[0].set, o.vm[0].nr, "isa_debug_exit"), "1");
	options__free(&o);

	assert_int_equal(RUN(&o, err, "--vm", "name=a,mem=64M", "--isa-debug-exit"), OPT_ERROR);
	assert_non_null(strstr(err, "--isa-debug-exit must come before the first --vm"));
	options__free(&o);
	assert_int_equal(RUN(&o, err, "--module"), OPT_ERROR);
	assert_non_null(strstr(err, "option --module needs a value"));
	options__free(&o);
}

static void module_lists(void **state)
{
	(void)state;
	char *path[4], *args[4], err[128];
	char empty[] = "";
	assert_int_equal(parse__modules(empty, path, args, 4, err, sizeof(err)), 0);
	char one[] = "/boot/env";
	assert_int_equal(parse__modules(one, path, args, 4, err, sizeof(err)), 1);
	assert_string_equal(path[0], "/boot/env");
	assert_null(args[0]);
	char three[] = "a,x=1,y=2;b;c,";
	assert_int_equal(parse__modules(three, path, args, 4, err, sizeof(err)), 3);
	assert_string_equal(path[0], "a");
	assert_string_equal(args[0], "x=1,y=2"); /* the first ',' splits; the rest is the string */
	assert_string_equal(path[1], "b");
	assert_null(args[1]);
	assert_string_equal(path[2], "c");
	assert_string_equal(args[2], "");
	char no_path[] = "a;,x";
	assert_int_equal(parse__modules(no_path, path, args, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "module 1 has no path"));
	char trailing[] = "a;";
	assert_int_equal(parse__modules(trailing, path, args, 4, err, sizeof(err)), -1);
	char five[] = "a;b;c;d;e";
	assert_int_equal(parse__modules(five, path, args, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 4 modules"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(modules_and_isa_debug_exit),
		cmocka_unit_test(module_lists),
		cmocka_unit_test(full_command_line),
		cmocka_unit_test(sandbox_and_user),
		cmocka_unit_test(errors_say_what),
		cmocka_unit_test(cmdline_limit),
		cmocka_unit_test(several_vms),
		cmocka_unit_test(vm_spec_errors),
		cmocka_unit_test(size_parser),
		cmocka_unit_test(number_parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
