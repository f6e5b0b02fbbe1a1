/* SPDX-License-Identifier: MIT */
/* What bench.c measures and bench_report.c reports (bench.h has the overview). */
#ifndef L1VMM_BENCH_PRIV_H
#define L1VMM_BENCH_PRIV_H

#include <stdio.h>

#include "l1vmm/bench.h"

/* One sample of the host and the tree; memory in MiB, t in seconds since the run began. */
struct bench_sample {
	double t;
	double mem_avail_mb;
	double psi_some_avg10;		/* /proc/pressure/memory, % */
	double rss_mb;			/* l1vmm's RssAnon */
	double resident_mb;		/* reclaim/guest_resident_mb */
	double sharing_mb;		/* dedup/general_profit */
	double balloon_mb;		/* sum of vms/NAME/balloon/actual_mb */
	double reclaim_mb;		/* pages in the store less the store's own memory */
	double store_mb;		/* reclaim/store_mem_bytes */
	double cpu_s;			/* host CPU outside the guests (l1vmm, and ksmd for ksm) */
	float rate[BENCH_MAX_VMS];	/* each guest's last reported rate (0: none yet) */
};

/* What one guest reported in one run. */
struct bench_guest {
	char name[BENCH_NAME_MAX + 4];
	const char *workload;
	double final_rate;		/* its own summary figure (bench__figure_name()) */
	double fault_us_p50, fault_us_p99; /* hotcold's touches=full */
	double fetch_us_p50, fetch_us_p99; /* vms/NAME/reclaim/, the last non-zero figures */
	unsigned long mismatches;
	bool ready;			/* past its fill: it printed its first report */
	bool passed, failed;
};

struct bench_run {
	enum bench_contender contender;
	unsigned rep;
	struct bench_sample *sample;
	unsigned nr_samples, cap_samples;
	struct bench_guest guest[BENCH_MAX_VMS];
	double t_ready;			/* every guest past its fill; < 0: never */
	double fetch_us_p50, fetch_us_p99; /* reclaim/, the last non-zero figures */
	double mem_before_mb;		/* MemAvailable before the run */
	int status;			/* the child's exit status */
	char why[200];			/* why the run failed; "" when it passed */
};

/* What a guest of workload w reports as its summary figure ("verify_MBps", ...). */
const char *bench__figure_name(const char *workload);

/*
 * One line of the child's output at t seconds: when it is a guest's ("[NAME] ..."),
 * update that guest's figures in r (nr guests), its last rate in rate[], and
 * r->t_ready once every guest is past its fill.
 */
void bench__guest_line(struct bench_run *r, unsigned nr, const char *line, double t, float rate[]);

/* One guest group's figures in one contender's runs: medians over its repetitions. */
struct bench_group_row {
	unsigned runs;			/* 0: the contender did not run */
	double value;			/* the group's own figure, the mean over its guests */
	double x_none;			/* value over the same guests' in the baseline run (geometric mean) */
	double fault_us_p50, fault_us_p99; /* the largest of its guests'; 0: none reported */
	double fetch_us_p50, fetch_us_p99;
	double mismatches;		/* the sum over its guests */
	bool failed;			/* a guest of it failed, in any repetition */
};

void bench__group_row(const struct bench_scenario *s, const struct bench_run *runs, unsigned nr_runs,
		      enum bench_contender c, unsigned group, struct bench_group_row *row);

/* The per-guest tables (one block per guest group, a row per contender that ran) to o. */
void bench__guest_table(FILE *o, const struct bench_scenario *s, const struct bench_run *runs,
			unsigned nr_runs);

/* Write the table to stdout and table.txt, samples.csv/json, summary.csv, the plots in out. */
int bench__report(const struct bench_scenario *s, struct bench_run *runs, unsigned nr_runs,
		  const char *out);

#endif
