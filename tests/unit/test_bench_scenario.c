/* Unit tests: the scenario parser of `l1vmm bench` (l1vmm/bench_scenario.c). */
#include "cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "l1vmm/bench.h"

#define HOST_MB 8192 /* a host with 8 GiB available */

static struct bench_scenario sc;
static char err[512];

static bool parse(const char *text)
{
	err[0] = '\0';
	return bench__parse("t.scn", text, HOST_MB, &sc, err, sizeof(err));
}

/* text is refused with an error that begins with want (FILE:LINE: ...). */
static void refused(const char *text, const char *want)
{
	assert_false(parse(text));
	if (strncmp(err, want, strlen(want))) {
		fprintf(stderr, "got  '%s'\nwant '%s...'\n", err, want);
		fail();
	}
	assert_null(strchr(err, '\n')); /* one line */
}

static void good(void **state)
{
	(void)state;
	assert_true(parse("# a comment\n"
			  "name = demo\n"
			  "description = two kinds   # trailing comment\n"
			  "duration = 12\n"
			  "repeat = 3\n"
			  "sample = 0.25\n"
			  "contenders = none sharing balloon reclaim all ksm\n"
			  "overcommit = 2\n"
			  "set = dedup/pages_to_scan=2000\n"
			  "\n"
			  "guest = web count=2 mem=128M mode=shadow domain=web workload=dup size=48M seed=5\n"
			  "guest = batch mem=256M vcpus=2 mode=ept workload=churn peak=160M hold=32M\n"
			  "guest = pager mem=32M disk=64M workload=swapstorm size=48M seconds=3\n"));
	assert_string_equal(sc.name, "demo");
	assert_string_equal(sc.description, "two kinds");
	assert_true(sc.duration == 12 && sc.repeat == 3 && sc.sample_s == 0.25);
	assert_int_equal(sc.nr_contenders, 6);
	assert_int_equal(sc.contender[0], BENCH_NONE);
	assert_int_equal(sc.contender[5], BENCH_KSM);
	assert_int_equal(sc.nr_groups, 3);
	assert_int_equal(sc.nr_vms, 4);
	assert_int_equal(sc.guest_mem >> 20, 128 * 2 + 256 + 32);
	assert_int_equal(sc.host_limit_mb, (128 * 2 + 256 + 32) / 2);
	assert_int_equal(sc.nr_sets, 1);
	assert_string_equal(sc.set[0], "dedup/pages_to_scan=2000");
	assert_int_equal(sc.group[1].vcpus, 2);
	assert_string_equal(sc.group[1].mode, "ept");
	assert_string_equal(sc.group[0].domain, "web");
	assert_string_equal(sc.group[1].domain, ""); /* each VM a domain of its own */
	assert_int_equal(sc.group[2].disk_size, 64 << 20);
	assert_int_equal(sc.group[2].line, 13);

	char cmd[512];
	/* seconds= from duration, vm= by index, balloon=pv since balloon runs */
	bench__cmdline(&sc, &sc.group[0], 1, cmd, sizeof(cmd));
	assert_string_equal(cmd, "workload=dup size=48M seed=5 seconds=12 vm=2 balloon=pv");
	bench__cmdline(&sc, &sc.group[2], 3, cmd, sizeof(cmd));
	assert_string_equal(cmd, "workload=swapstorm size=48M seconds=3 balloon=pv swap=virtio");
}

static void defaults_and_name(void **state)
{
	(void)state;
	assert_true(bench__parse("dir/sharing.scn", "contenders = none\n"
				 "guest = a mem=64M workload=compute\n", HOST_MB, &sc, err, sizeof(err)));
	assert_string_equal(sc.name, "sharing");
	assert_true(sc.duration == 20 && sc.repeat == 1 && sc.sample_s == 0.5);
	assert_int_equal(sc.host_limit_mb, 0);
	assert_string_equal(sc.group[0].mode, "auto");
	char cmd[256];
	bench__cmdline(&sc, &sc.group[0], 0, cmd, sizeof(cmd));
	assert_string_equal(cmd, "workload=compute seconds=20"); /* no balloon: no balloon=pv */
}

static void bad_keys(void **state)
{
	(void)state;
	refused("contenders = none\nguest = a mem=64M workload=compute\nspeed = 3\n",
		"t.scn:3: unknown key 'speed'");
	refused("contenders = none\nguest = a mem=64M workload=compute\njust words\n",
		"t.scn:3: expected key = value");
	refused("contenders = none fast\n", "t.scn:1: unknown contender 'fast'");
	refused("contenders = none none\n", "t.scn:1: contender 'none' given twice");
	refused("contenders = none\nguest = a mem=64M workload=dup size=8M colour=red\n",
		"t.scn:2: guest a: workload=dup takes no 'colour'");
	refused("contenders = none\nguest = a mem=64M workload=hostile size=8M\n",
		"t.scn:2: guest a: unknown workload 'hostile'");
	refused("contenders = none\nguest = a mem=64M workload=apf size=8M hot=1M\n",
		"t.scn:2: guest a: workload=apf takes no 'hot'");
	refused("contenders = none\nguest = a mem=64M size=8M workload=dup\n",
		"t.scn:2: guest a: workload= must come before");
	refused("contenders = none\nguest = a mem=64M workload=dup size=8M seed=x\n",
		"t.scn:2: guest a: seed=x is not a number");
	refused("contenders = none\nguest = A1 mem=64M workload=compute\n", "t.scn:2: guest: expected a name");
	refused("contenders = none\nguest = a mem=64M workload=compute\nguest = a mem=64M workload=compute\n",
		"t.scn:3: guest a: the name of another guest line");
	refused("set = /etc/passwd=1\n", "t.scn:1: set: expected PATH=VALUE");
	refused("set = ../x=1\n", "t.scn:1: set: expected PATH=VALUE");
	refused("duration = 0\n", "t.scn:1: duration=0");
	refused("repeat = 11\n", "t.scn:1: repeat=11");
	refused("name =\n", "t.scn:1: name: no value");
	refused("contenders = none\nguest = a mem=64M mode=fast workload=compute\n", "t.scn:2: guest a: mode=fast");
	refused("contenders = none\nguest = a mem=64M domain=Web! workload=compute\n",
		"t.scn:2: guest a: domain=Web!");
	refused("guest = a mem=64M workload=compute\n", "t.scn:1: no contenders line");
	refused("contenders = none\n", "t.scn:1: no guest");
}

static void impossible_sizes(void **state)
{
	(void)state;
	refused("contenders = none\nguest = a mem=64M workload=dup size=64M\n",
		"t.scn:2: guest a: the workload touches 64M but mem=64M");
	refused("contenders = none\nguest = a mem=64M workload=churn peak=32M grow=40M\n",
		"t.scn:2: guest a: the workload touches 72M");
	refused("contenders = none\nguest = a mem=64M workload=churn peak=16M hold=32M\n",
		"t.scn:2: guest a: hold=32M is more than peak=16M");
	refused("contenders = none\nguest = a mem=64M workload=hotcold size=16M hot=32M\n",
		"t.scn:2: guest a: hot=32M is more than size=16M");
	refused("contenders = none\nguest = a mem=64M workload=dup\n", "t.scn:2: guest a: workload=dup needs size=SIZE");
	refused("contenders = none\nguest = a mem=1M workload=compute\n", "t.scn:2: guest a: mem=1M");
	refused("contenders = none\nguest = a mem=32M workload=swapstorm size=48M\n",
		"t.scn:2: guest a: swapstorm pages to its disk");
	refused("contenders = none\nguest = a mem=32M disk=64M workload=dup size=8M\n",
		"t.scn:2: guest a: disk= is for workload=swapstorm");
	refused("contenders = none\nguest = a count=33 mem=32M workload=compute\n", "t.scn:2: guest a: count=33");
}

static void host_limits(void **state)
{
	(void)state;
	/* more than the host can hold: the line of the guest that goes over */
	refused("contenders = none\nguest = a count=2 mem=4G workload=compute\nguest = b mem=1G workload=compute\n",
		"t.scn:3: the guests' RAM (9216M so far) is more than the host can hold (MemAvailable 8192M)");
	refused("contenders = none reclaim\nguest = a mem=64M workload=compute\n",
		"t.scn:1: contender 'reclaim' needs a host limit");
	refused("contenders = all\n\nguest = a mem=64M workload=compute\n", "t.scn:1: contender 'all' needs a host limit");
	refused("host_limit = 128M\ncontenders = reclaim\nguest = a mem=64M workload=compute\n",
		"t.scn:1: the host limit (128M) is not below the guests' RAM (64M)");
	refused("host_limit = 32M\novercommit = 2\n", "t.scn:2: overcommit: the host limit was already given on line 1");
	refused("overcommit = 1\n", "t.scn:1: overcommit=1");
	refused("host_limit = 1M\n", "t.scn:1: host_limit=1M");
	assert_true(parse("host_limit = 32M\ncontenders = balloon\nguest = a mem=64M workload=compute\n"));
	assert_int_equal(sc.host_limit_mb, 32);
}

static void file_errors(void **state)
{
	(void)state;
	assert_false(bench__parse_file("/nonexistent/x.scn", HOST_MB, &sc, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/x.scn: cannot open"));
	assert_false(bench__parse_file("/dev/null", HOST_MB, &sc, err, sizeof(err))); /* not a regular file */
	char path[] = "/tmp/test_bench_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "contenders = none\nguest = a mem=64M workload=compute\nbogus = 1\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_false(bench__parse_file(path, HOST_MB, &sc, err, sizeof(err)));
	char want[64];
	snprintf(want, sizeof(want), "%s:3: unknown key 'bogus'", path);
	assert_non_null(strstr(err, want));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(defaults_and_name),
		cmocka_unit_test(bad_keys),
		cmocka_unit_test(impossible_sizes),
		cmocka_unit_test(host_limits),
		cmocka_unit_test(file_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
