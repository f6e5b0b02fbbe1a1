/* SPDX-License-Identifier: MIT */
/*
 * The control tree as Prometheus metrics (l1vmm/metrics.h): the exact text
 * for a small tree of files (names, units, types, labels, what gives no
 * sample), the same tree read live, every counter the rules name exists in
 * l1vmm's registry, and --metrics ADDR's parser.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmocka_all.h"
#include "tree_files.h"
#include "l1vmm/ctl.h"
#include "l1vmm/metrics.h"
#include "l1vmm/parse.h"

static char dir[64];

static void put(const char *rel, const char *content)
{
	tree_files__put(dir, rel, content, strlen(content));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/l1vmm-metrics-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static char *print_metrics(void)
{
	char *text = NULL, err[256] = "";
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_int_equal(stat__print_metrics(dir, out, err, sizeof(err)), 0);
	fclose(out);
	return text;
}

static void exact_text(void **state)
{
	(void)state;
	put("dedup/pages_sharing", "42\n");
	put("dedup/full_scans", "3\n");
	put("dedup/scan_cpu_ms", "1500\n");
	put("dedup/check", "ok\n");            /* never read: a full cross-check */
	put("log_level", "warn\n");            /* an enum: one series per choice */
	put("reclaim/compression_ratio", "none\n"); /* not a number now: no sample */
	put("reclaim/store_cap_mb", "2\n");
	put("vms/a/mem", "128M\n");            /* a size as a config directory has it */
	put("vms/a/kernel", "/boot/k\n");      /* a string: no metric */
	put("vms/a/state", "running\n");
	put("vms/a/stats/exits/io", "7\n");
	put("vms/a/stats/exits/mmio", "9\n");
	put("vms/a/shadow/break_ns", "1500000\n");
	put("vms/b\"x/stats/exits/io", "1\n");  /* a label value to escape */
	put("vms/a/README", "not a value\n");
	put("nonsense/file", "1\n");           /* not l1vmm's: no metric */
	char *text = print_metrics();
	static const char *const expect[] = {
		"# HELP l1vmm_dedup_full_scans_total passes over every page of every VM (tree: dedup/full_scans)",
		"# TYPE l1vmm_dedup_full_scans_total counter",
		"l1vmm_dedup_full_scans_total 3",
		"# TYPE l1vmm_dedup_pages_sharing gauge",
		"l1vmm_dedup_pages_sharing 42",
		"# HELP l1vmm_dedup_scan_cpu_seconds_total CPU time spent scanning, milliseconds (tree: dedup/scan_cpu_ms, here in seconds)",
		"# TYPE l1vmm_dedup_scan_cpu_seconds_total counter",
		"l1vmm_dedup_scan_cpu_seconds_total 1.5",
		"# TYPE l1vmm_log_level gauge",
		"l1vmm_log_level{log_level=\"error\"} 0",
		"l1vmm_log_level{log_level=\"warn\"} 1",
		"l1vmm_log_level{log_level=\"info\"} 0",
		"l1vmm_log_level{log_level=\"debug\"} 0",
		"# TYPE l1vmm_reclaim_store_cap_bytes gauge",
		"l1vmm_reclaim_store_cap_bytes 2097152",
		"# HELP l1vmm_vm_exits_total VM exits, by reason (tree: vms/NAME/stats/exits/REASON)",
		"# TYPE l1vmm_vm_exits_total counter",
		"l1vmm_vm_exits_total{vm=\"a\",reason=\"io\"} 7",
		"l1vmm_vm_exits_total{vm=\"a\",reason=\"mmio\"} 9",
		"l1vmm_vm_exits_total{vm=\"b\\\"x\",reason=\"io\"} 1",
		"# TYPE l1vmm_vm_mem_bytes gauge",
		"l1vmm_vm_mem_bytes{vm=\"a\"} 134217728",
		"# TYPE l1vmm_vm_shadow_break_seconds_total counter",
		"l1vmm_vm_shadow_break_seconds_total{vm=\"a\"} 0.0015",
		"# TYPE l1vmm_vm_state gauge",
		"l1vmm_vm_state{vm=\"a\",state=\"running\"} 1",
	};
	/* in this order, and nothing else but HELP lines */
	const char *at = text;
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		const char *hit = strstr(at, expect[i]);
		if (!hit)
			fail_msg("missing or out of order: %s\n--- got:\n%s", expect[i], text);
		at = hit + strlen(expect[i]);
	}
	unsigned samples = 0, types = 0, helps = 0;
	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		if (strncmp(l, "# TYPE ", 7) == 0)
			types++;
		else if (strncmp(l, "# HELP ", 7) == 0)
			helps++;
		else
			samples++;
	}
	assert_int_equal(types, 9);
	assert_int_equal(helps, 9);
	assert_int_equal(samples, 14);
	assert_null(strstr(text, "check"));
	assert_null(strstr(text, "compression_ratio"));
	assert_null(strstr(text, "kernel"));
	assert_null(strstr(text, "nonsense"));
	free(text);
}

/* The live tree gives what its copy gives: one builder, the registry describes both. */
static void live_tree_source(void **state)
{
	(void)state;
	struct metrics_schema *s = metrics__schema_create();
	assert_non_null(s);
	struct ctl_tree *t = metrics__schema_tree(s);
	struct metrics_source src = metrics__tree_source(t);
	char *text, err[256];
	size_t len;
	assert_int_equal(metrics__build(&src, t, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "\n# TYPE l1vmm_dedup_pages_sharing gauge\nl1vmm_dedup_pages_sharing 0\n"));
	assert_non_null(strstr(text, "\nl1vmm_vm_mem_bytes{vm=\"vm\"} 0\n"));
	assert_non_null(strstr(text, "\nl1vmm_vm_exits_total{vm=\"vm\",reason=\"hlt\"} 0\n"));
	assert_null(strstr(text, "README"));
	free(text);
	metrics__schema_destroy(s);
}

/* Every file the tree has gives a valid, unique family name; the counters are the
 * files that only grow. A rule naming a file the registry lost would show here. */
static void every_file_described(void **state)
{
	(void)state;
	struct metrics_schema *s = metrics__schema_create();
	struct ctl_tree *t = metrics__schema_tree(s);
	static const char *const counters[] = {
		"dedup/full_scans", "dedup/cow_breaks", "dedup/scan_cpu_ms", "dedup/pages_scanned",
		"reclaim/evictions", "reclaim/fetches", "balloon/steps", "vms/vm/stats/exits/io",
		"vms/vm/stats/run_time", "vms/vm/shadow/faults", "vms/vm/shadow/refused/not_pt",
		"vms/vm/balloon/inflated_mb", "vms/vm/reclaim/refaults",
	};
	static const char *const gauges[] = {
		"dedup/pages_sharing", "dedup/pages_shared", "dedup/run", "host/mem_available",
		"reclaim/pages_compressed", "vms/vm/mem", "vms/vm/shadow/tables",
		"vms/vm/balloon/actual_mb", "vms/vm/dedup/pages_shared",
	};
	char name[160];
	bool counter;
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		assert_true(metrics__describe(t, counters[i], name, sizeof(name), &counter));
		assert_true(counter);
		assert_non_null(strstr(name, "_total"));
	}
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		assert_true(metrics__describe(t, gauges[i], name, sizeof(name), &counter));
		assert_false(counter);
		assert_null(strstr(name, "_total"));
	}
	assert_true(metrics__describe(t, "vms/vm/balloon/inflate_rate", name, sizeof(name), &counter));
	assert_string_equal(name, "l1vmm_vm_balloon_inflate_rate_bytes_per_second");
	assert_true(metrics__describe(t, "balloon/last_relief_s", name, sizeof(name), &counter));
	assert_string_equal(name, "l1vmm_balloon_last_relief_seconds");
	assert_false(metrics__describe(t, "dedup/check", name, sizeof(name), &counter));
	assert_false(metrics__describe(t, "vms/vm/cmdline", name, sizeof(name), &counter));
	assert_false(metrics__describe(t, "dedup/nonesuch", name, sizeof(name), &counter));
	metrics__schema_destroy(s);
}

static void listen_addr(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len;
	char host[64];
	struct { const char *in, *host; unsigned port; } good[] = {
		{ "9800", "127.0.0.1", 9800 }, { "0", "127.0.0.1", 0 },
		{ "0.0.0.0:9800", "0.0.0.0", 9800 }, { "localhost:65535", "127.0.0.1", 65535 },
		{ "[::1]:80", "::1", 80 }, { "[::]:9800", "::", 9800 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(parse__listen_addr(good[i].in, &ss, &len));
		bool v6 = ss.ss_family == AF_INET6;
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(ss.ss_family, v6 ? (const void *)&a6->sin6_addr : (const void *)&a4->sin_addr,
			  host, sizeof(host));
		assert_string_equal(host, good[i].host);
		assert_int_equal(ntohs(v6 ? a6->sin6_port : a4->sin_port), good[i].port);
		assert_int_equal(len, v6 ? sizeof(*a6) : sizeof(*a4));
	}
	static const char *const bad[] = {
		"", ":", ":80", "1.2.3.4:", "65536", "-1", "+80", "0x50", "abc", "::1:80",
		"[1.2.3.4]:80", "[::1]", "example.com:80", "1.2.3:80", "9800 ", " 9800",
		"127.0.0.1:80:80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse__listen_addr(bad[i], &ss, &len))
			fail_msg("'%s' was accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(exact_text, setup, teardown),
		cmocka_unit_test(live_tree_source),
		cmocka_unit_test(every_file_described),
		cmocka_unit_test(listen_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
