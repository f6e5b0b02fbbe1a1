/* SPDX-License-Identifier: MIT */
/*
 * DOC: `l1vmm bench SCENARIO [--out DIR]`: memory-pressure benchmarks.
 *
 * A scenario file (README "Benchmarks", l1vmm(1)) names guests, a host limit
 * and contenders; bench runs each contender in turn as an `l1vmm run` child
 * process with the live tree mounted, samples the host and the tree, reads
 * the guests' own report lines, and ends with one table, CSV/JSON samples and
 * PNG plots. Three parts:
 *
 *   bench_scenario.c  the scenario parser: pure, no I/O but reading the file;
 *                     every refusal is "FILE:LINE: what" (unit-tested)
 *   bench.c           the runs: child processes, sampling, guest lines
 *   bench_report.c    the table, the per-guest table, samples.csv/json,
 *                     summary.csv, guests.csv, the gnuplot plots
 *
 * Exit status: 0 all runs passed; 1 a guest failed its verification (a
 * mismatch, a FAIL result, a non-zero exit) or a run could not start; 2 a bad
 * command line or scenario, refused before anything runs.
 */
#ifndef L1VMM_BENCH_H
#define L1VMM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2

#define BENCH_MAX_GROUPS 16
#define BENCH_MAX_VMS 32
#define BENCH_MAX_SETS 16
#define BENCH_MAX_REPEAT 10
#define BENCH_NAME_MAX 24
#define BENCH_ARGS_MAX 400

enum bench_contender {
	BENCH_NONE,	/* no mechanism: the baseline */
	BENCH_SHARING,	/* l1vmm's page sharing (dedup/run=1) */
	BENCH_BALLOON,	/* balloon/policy=auto under the host limit */
	BENCH_RECLAIM,	/* host reclaim under the host limit */
	BENCH_ALL,	/* sharing, balloon and reclaim together */
	BENCH_KSM,	/* Linux KSM (dedup/backend=ksm) */
	BENCH_NR_CONTENDERS
};

extern const char *const bench__contender_names[BENCH_NR_CONTENDERS];

/* One `guest = NAME ...` line: count identical VMs NAME1..NAMEn (NAME alone when 1). */
struct bench_group {
	char name[BENCH_NAME_MAX];
	unsigned count;
	unsigned vcpus;
	uint64_t mem;			/* bytes */
	char mode[8];			/* auto, ept or shadow */
	char domain[BENCH_NAME_MAX];	/* the VMs' sharing domain; "": each VM alone */
	char workload[16];
	uint64_t disk_size;		/* bytes; 0: no disk */
	char args[BENCH_ARGS_MAX];	/* the workload's own key=value words */
	bool has_seconds, has_vm, has_balloon;
	unsigned line;
};

struct bench_scenario {
	char file[256];
	char name[64];
	char description[160];
	double duration;		/* seconds=: the guests' measured phase */
	unsigned repeat;
	double sample_s;
	uint64_t host_limit_mb;		/* 0: none (only none, sharing, ksm run) */
	enum bench_contender contender[BENCH_NR_CONTENDERS];
	unsigned nr_contenders;
	char set[BENCH_MAX_SETS][128];	/* PATH=VALUE, written to the tree of every run */
	unsigned nr_sets;
	struct bench_group group[BENCH_MAX_GROUPS];
	unsigned nr_groups;
	unsigned nr_vms;
	uint64_t guest_mem;		/* bytes, all VMs */
};

/*
 * Parse scenario text (the contents of file `file`) into *s, checked in full:
 * the keys, the sizes against the guests' memory, the guests' memory against
 * host_avail_mb (the host's MemAvailable), the contenders against the limit.
 * false with "FILE:LINE: what was wrong" in err on the first error.
 */
bool bench__parse(const char *file, const char *text, uint64_t host_avail_mb,
		  struct bench_scenario *s, char *err, size_t errlen);

/* Read and parse a scenario file (at most 64 KiB); as bench__parse. */
bool bench__parse_file(const char *file, uint64_t host_avail_mb, struct bench_scenario *s,
		       char *err, size_t errlen);

/*
 * The guest command line of VM `index` (0-based over all VMs) of group g:
 * workload=W, the group's words, seconds=, vm=, balloon=pv and swap=virtio
 * as the scenario needs them.
 */
void bench__cmdline(const struct bench_scenario *s, const struct bench_group *g, unsigned index,
		    char *out, size_t len);

/* `l1vmm bench ...`: argv after "bench". The exit status (above). */
int bench__main(int argc, char *argv[]);

#endif
